"""The page's hot path on the shared Redis cache: one `redis.Redis` client per process (Django's
Redis backend builds a new client object for every call) and pipelines, so a page view reads its
stored page and blocks and counts itself in one round trip.

Values are Django's cache values (same keys, same serialiser), so everything written through
`django.core.cache` is read here and the other way round. With any other cache backend (the
embedded default's local memory) `shared()` is None and callers use the Django cache API.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import redis
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

_clients: dict[tuple[int, int], tuple[RedisCache, redis.Redis]] = {}


def shared() -> tuple[RedisCache, redis.Redis] | None:
    """The default cache and this process's client of its Redis, or None if it is not Redis."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    key = (id(backend), os.getpid())
    found = _clients.get(key)
    if found is None or found[0] is not backend:
        inner: Any = backend._cache  # Django's client of the Redis servers
        client = inner._client(connection_pool=inner._get_connection_pool(write=True))
        _clients.clear()
        _clients[key] = found = (backend, client)
    return found


def get_many_with(
    keys: Sequence[str], also: Callable[[Any, Callable[[str], str]], None]
) -> dict[str, Any] | None:
    """Django cache values of `keys` (those present), with the commands `also` adds to the same
    pipeline (it gets the pipeline and the key maker); None when the cache is not Redis."""
    found = shared()
    if found is None:
        return None
    backend, client = found
    made = [backend.make_and_validate_key(key) for key in keys]
    pipe = client.pipeline(transaction=False)
    pipe.mget(made)
    also(pipe, backend.make_key)
    values = pipe.execute()[0]
    inner: Any = backend._cache
    loads = inner._serializer.loads
    return {key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None}


def get(key: str) -> Any:
    """A Django cache value (None when absent), through this process's client when it can."""
    found = shared()
    if found is None:
        return cache.get(key)
    backend, client = found
    value = client.get(backend.make_and_validate_key(key))
    inner: Any = backend._cache
    return None if value is None else inner._serializer.loads(value)
