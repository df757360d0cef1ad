"""A per-carrier request budget shared by every worker, kept in the Django cache.

Carriers meter their tracking APIs per credential, so the budget must hold across processes and
machines: it lives in the cache (Redis in production). The bucket holds `burst` tokens and
refills at `rate_per_second`; it is implemented as fixed refill windows counted with the cache's
atomic `incr` (each window of `burst / rate_per_second` seconds grants `burst` requests), which
needs no lock and never over-grants within a window. A carrier's `Retry-After` also pauses every
worker until it has passed (`pause`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class RateLimit:
    rate_per_second: float
    burst: int

    @property
    def window_seconds(self) -> float:
        return self.burst / self.rate_per_second


class RateLimited(Exception):
    """No budget left now; `retry_after` seconds until there is."""

    def __init__(self, carrier: str, retry_after: float) -> None:
        super().__init__(f"{carrier}: request budget spent, retry in {retry_after:.1f}s")
        self.retry_after = retry_after


def _pause_key(carrier: str) -> str:
    return f"carriers:pause:{carrier}"


def pause(carrier: str, seconds: float) -> None:
    """Hold every worker's requests to `carrier` for `seconds` (after a 429 Retry-After)."""
    until = time.time() + seconds
    cache.set(_pause_key(carrier), until, timeout=math.ceil(seconds) + 1)


def acquire(carrier: str, limit: RateLimit) -> None:
    """Take one request from `carrier`'s budget or raise `RateLimited` saying how long to wait."""
    now = time.time()
    paused_until = cache.get(_pause_key(carrier))
    if paused_until is not None and paused_until > now:
        raise RateLimited(carrier, paused_until - now)
    window = limit.window_seconds
    index = math.floor(now / window)
    key = f"carriers:rate:{carrier}:{index}"
    cache.add(key, 0, timeout=math.ceil(window) + 1)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr: this is the window's first request
        cache.add(key, 1, timeout=math.ceil(window) + 1)
        used = 1
    if used > limit.burst:
        raise RateLimited(carrier, (index + 1) * window - now)
