"""Fixed-window counters in Django's cache (Redis in production, shared by all web processes).

A hit is one round trip on Redis (INCR and EXPIRE in one pipeline) instead of Django's add, then exists and incr;
other caches go through the cache API.
"""

import time

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script


def _cache_key(scope: str, key: str | int, seconds: int) -> str:
    return f"benefits:rl:{scope}:{key}:{int(time.time() // seconds)}"


def rate_hit(*, scope: str, key: str | int, limit: tuple[int, int]) -> bool:
    """Count one hit for `key` in `scope`; False once the window's allowance is spent (the hit is still counted)."""
    allowed, seconds = limit
    cache_key = _cache_key(scope, key, seconds)
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        redis_key = backend.make_and_validate_key(cache_key)
        pipeline = backend._cache.get_client(redis_key, write=True).pipeline(transaction=False)
        pipeline.incr(redis_key)
        pipeline.expire(redis_key, seconds + 1)  # the window is in the key: this only lets it go once it is over
        count, _ = pipeline.execute()
        return count <= allowed
    if cache.add(cache_key, 1, timeout=seconds + 1):
        return allowed >= 1
    try:
        return cache.incr(cache_key) <= allowed
    except ValueError:  # expired between add() and incr()
        cache.add(cache_key, 1, timeout=seconds + 1)
        return True


def rate_spent(*, scope: str, key: str | int, limit: tuple[int, int]) -> bool:
    """True when the window's allowance is already spent, without counting a hit."""
    allowed, seconds = limit
    return (cache.get(_cache_key(scope, key, seconds)) or 0) >= allowed


# rate_spent, then rate_hit unless spent, in one script: Redis runs it whole, so nothing comes between the two.
_SPENT_OR_HIT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return -1 end
local count = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return count
"""
_spent_or_hit_script: Script | None = None


def rate_hit_unless_spent(
    *, scope: str, key: str | int, limit: tuple[int, int], unless_scope: str, unless_limit: tuple[int, int]
) -> bool:
    """False if `unless_scope`'s allowance for `key` is spent (then no hit is counted), else `rate_hit` in `scope`.

    The same as `not rate_spent(unless_scope) and rate_hit(scope)`; on Redis one round trip instead of two (a
    script, sent by its SHA once Redis knows it)."""
    global _spent_or_hit_script
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return not rate_spent(scope=unless_scope, key=key, limit=unless_limit) and rate_hit(
            scope=scope, key=key, limit=limit
        )
    allowed, seconds = limit
    spent_key = backend.make_and_validate_key(_cache_key(unless_scope, key, unless_limit[1]))
    hit_key = backend.make_and_validate_key(_cache_key(scope, key, seconds))
    client = backend._cache.get_client(hit_key, write=True)
    if _spent_or_hit_script is None:
        _spent_or_hit_script = Script(client, _SPENT_OR_HIT)
    count = _spent_or_hit_script(keys=[spent_key, hit_key], args=[unless_limit[0], seconds + 1], client=client)
    return 0 <= count <= allowed
