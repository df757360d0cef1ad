"""The page's hot path on the shared Redis cache: one `redis.Redis` client per process (Django's
Redis backend builds a new client object for every call), and one Lua script with which a page view
reads its stored page and blocks and counts itself in one command.

Values are Django's cache values (same keys, same serialiser), so everything written through
`django.core.cache` is read here and the other way round. With any other cache backend (the
embedded default's local memory) `shared()` is None and callers use the Django cache API.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


_scripts: dict[str, Any] = {}

# What a caller adds to the Lua command (given the key maker): its Lua, its KEYS, its ARGV.
Also = Callable[[Callable[[str], str]], tuple[str, list[str], list[str]]]


def combined(*parts: Also) -> Also:
    """Several `also` parts as one: each part's Lua runs as a local function given its own KEYS
    and ARGV (so each body numbers them from 1, as if it ran alone)."""

    def also(make_key: Callable[[str], str]) -> tuple[str, list[str], list[str]]:
        bodies: list[str] = []
        keys: list[str] = []
        args: list[str] = []
        for i, part in enumerate(parts):
            body, part_keys, part_args = part(make_key)
            key_list = ", ".join(f"KEYS[{len(keys) + n + 1}]" for n in range(len(part_keys)))
            arg_list = ", ".join(f"ARGV[{len(args) + n + 1}]" for n in range(len(part_args)))
            bodies.append(
                f"local function part{i}(KEYS, ARGV)\n{body}\nend\n"
                f"part{i}({{{key_list}}}, {{{arg_list}}})"
            )
            keys.extend(part_keys)
            args.extend(part_args)
        return "\n".join(bodies), keys, args

    return also


def get_many_with(keys: Sequence[str], also: Also) -> dict[str, Any] | None:
    """Django cache values of `keys` (those present), read by one Lua script that first runs
    what `also` gives (given the key maker: Lua, its KEYS, its ARGV): one command and one round
    trip, not a pipeline of several. None when the cache is not Redis."""
    found = shared()
    if found is None:
        return None
    backend, client = found
    body, script_keys, args = also(backend.make_key)
    text = f"{body}\nreturn redis.call('MGET', unpack(KEYS, {len(script_keys) + 1}))"
    script = _scripts.get(text)
    if script is None:
        script = _scripts[text] = client.register_script(text)
    made = [backend.make_and_validate_key(key) for key in keys]
    values = script(keys=[*script_keys, *made], args=args, client=client)
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


# --- Values kept under a tag -----------------------------------------------------------------
#
# A tagged value is valid while its tag key holds the tag it was stored with. Writers make every
# such value stale at once by giving the tag key a new random value (`tags_renew`); a reader that
# read the data before that and stores it after stores it under the old tag, so it is never
# used: no reader can put back what a writer made stale. A tag key that expired reads as absent
# and a new random tag is made, so an old value never becomes valid again.

TAG_TTL = 86400


def tagged_get(key: str, tag_key: str) -> tuple[Any, str]:
    """(the value of `key` if stored under the tag key's current tag, else None; that tag).
    The tag is made when the tag key has none. Needs the Redis cache (`shared()`)."""
    found = shared()
    assert found is not None
    backend, client = found
    made_key, made_tag_key = (
        backend.make_and_validate_key(key),
        backend.make_and_validate_key(tag_key),
    )
    stored, current = client.mget([made_key, made_tag_key])
    if current is None:
        pipe = client.pipeline(transaction=False)
        pipe.set(made_tag_key, secrets.token_hex(8), nx=True, ex=TAG_TTL)
        pipe.get(made_tag_key)
        return None, _text(pipe.execute()[1])
    tag = _text(current)
    if stored is not None:
        inner: Any = backend._cache
        stored_tag, until, value = inner._serializer.loads(stored)
        if stored_tag == tag and time.time() < until:
            return value, tag
    return None, tag


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def tagged_set(key: str, tag: str, value: Any, timeout: int) -> None:
    """Store `value` under `tag` (what `tagged_get` returned before the value was read) for
    `timeout` seconds (checked by this machine's clock as well as by Redis's expiry)."""
    found = shared()
    assert found is not None
    backend, client = found
    inner: Any = backend._cache
    stored = inner._serializer.dumps((tag, time.time() + timeout, value))
    client.set(backend.make_and_validate_key(key), stored, ex=timeout)


@dataclass(frozen=True)
class TaggedKeep:
    """A `tagged_set` not done yet: either done by the next Lua command (`script`, as an `also`
    part of `get_many_with`) to save its round trip, or on its own (`store`)."""

    key: str
    tag: str
    value: Any
    timeout: int

    def script(self, make_key: Callable[[str], str]) -> tuple[str, list[str], list[str]]:
        """The keep as Lua for `get_many_with`: the same key and value as `tagged_set`."""
        found = shared()
        assert found is not None
        inner: Any = found[0]._cache
        stored = inner._serializer.dumps((self.tag, time.time() + self.timeout, self.value))
        lua = "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])"
        return lua, [make_key(self.key)], [stored, str(self.timeout)]

    def store(self) -> None:
        tagged_set(self.key, self.tag, self.value, self.timeout)


def tagged_set_many(items: Sequence[tuple[str, str, Any]], timeout: int) -> None:
    """`tagged_set` of many (key, tag, value) in one round trip."""
    found = shared()
    if found is None or not items:
        return
    backend, client = found
    inner: Any = backend._cache
    until = time.time() + timeout
    pipe = client.pipeline(transaction=False)
    for key, tag, value in items:
        stored = inner._serializer.dumps((tag, until, value))
        pipe.set(backend.make_and_validate_key(key), stored, ex=timeout)
    pipe.execute()


def tags_renew(tag_keys: Sequence[str]) -> list[str]:
    """New random tags for these tag keys (every value stored under the old ones is stale from
    now on), returned in order. Raises if Redis cannot be written: callers decide whether that
    must stop their change."""
    found = shared()
    assert found is not None
    backend, client = found
    new = [secrets.token_hex(8) for _ in tag_keys]
    if tag_keys:
        pipe = client.pipeline(transaction=False)
        for tag_key, tag in zip(tag_keys, new, strict=True):
            pipe.set(backend.make_and_validate_key(tag_key), tag, ex=TAG_TTL)
        pipe.execute()
    return new
