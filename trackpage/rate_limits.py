"""Fixed-window counters in the shared cache (Redis in production): per client, per order number.

`cache.add` creates the window's counter with its expiry, `cache.incr` counts atomically, so
several web processes share one budget.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(scope: str, value: str) -> str:
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"trackpage:rl:{scope}:{digest}"


def hit(*, scope: str, value: str, limit: int) -> bool:
    """Count one attempt; True while the window's attempts are within `limit`."""
    window = settings.TRACKPAGE_LOOKUP_WINDOW_SECONDS
    key = _key(scope, value)
    if cache.add(key, 1, timeout=window):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: start a new window
            cache.add(key, 1, timeout=window)
            count = 1
    return count <= limit
