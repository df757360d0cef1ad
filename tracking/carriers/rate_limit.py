"""A per-carrier request budget shared by every worker, kept in the Django cache.

Carriers meter their tracking APIs per credential, so the budget must hold across processes and
machines: it lives in the cache (Redis in production). It behaves as a token bucket of `burst`
tokens refilled at `rate_per_second`, implemented as a sliding window over two counters that the
cache increments atomically (`incr`), so no lock is needed: a request is granted when the
previous window's count, weighted by how much of it still overlaps the sliding window, plus the
current window's count stays within `burst`. A refused request gives its increment back. A
carrier's `Retry-After` pauses every worker until it has passed (`pause`).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class RateLimit:
    rate_per_second: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate_per_second <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs rate_per_second > 0 and burst >= 1")

    @property
    def window_seconds(self) -> float:
        """The time the bucket takes to refill from empty."""
        return self.burst / self.rate_per_second


class RateLimited(Exception):
    """No budget left now; `retry_after` seconds until there is."""

    def __init__(self, carrier: str, retry_after: float) -> None:
        super().__init__(f"{carrier}: request budget spent, retry in {retry_after:.2f}s")
        self.retry_after = retry_after


def _pause_key(carrier: str) -> str:
    return f"carriers:pause:{carrier}"


def pause(carrier: str, seconds: float) -> None:
    """Hold every worker's requests to `carrier` for `seconds` (after a 429 Retry-After)."""
    until = time.time() + seconds
    current = cache.get(_pause_key(carrier))
    if current is None or current < until:
        cache.set(_pause_key(carrier), until, timeout=math.ceil(seconds) + 1)


def _count_key(carrier: str, index: int) -> str:
    return f"carriers:rate:{carrier}:{index}"


def _increment(key: str, ttl: int) -> int:
    cache.add(key, 0, timeout=ttl)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr: this is the window's first request
        cache.add(key, 1, timeout=ttl)
        return 1


def acquire(carrier: str, limit: RateLimit, *, now: float | None = None) -> None:
    """Take one request from `carrier`'s budget or raise `RateLimited` saying how long to wait."""
    now = time.time() if now is None else now
    paused_until = cache.get(_pause_key(carrier))
    if paused_until is not None and paused_until > now:
        raise RateLimited(carrier, paused_until - now)
    window = limit.window_seconds
    index = math.floor(now / window)
    elapsed = (now - index * window) / window  # 0..1 into the current window
    ttl = math.ceil(2 * window) + 1
    used_now = _increment(_count_key(carrier, index), ttl)
    used_before = int(cache.get(_count_key(carrier, index - 1)) or 0)
    if used_before * (1 - elapsed) + used_now <= limit.burst:
        return
    # If the window's counter already expired there is nothing to give back.
    with contextlib.suppress(ValueError):
        cache.decr(_count_key(carrier, index))
    # Room this window leaves for the previous one's weighted share; that share shrinks as the
    # window slides, so the wait is until it fits (or until the next window when nothing fits).
    spare = limit.burst - used_now
    if used_before and spare >= 0:
        wait = (1 - spare / used_before - elapsed) * window
    else:
        wait = (1 - elapsed) * window
    raise RateLimited(carrier, max(wait, 0.001))
