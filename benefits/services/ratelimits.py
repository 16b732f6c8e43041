"""Fixed-window counters in Django's cache (Redis in production, shared by all web processes).

A hit is one round trip on Redis (INCR and EXPIRE in one pipeline) instead of Django's add, then exists and incr;
other caches go through the cache API.
"""

import time

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache


def rate_hit(*, scope: str, key: str | int, limit: tuple[int, int]) -> bool:
    """Count one hit for `key` in `scope`; False once the window's allowance is spent (the hit is still counted)."""
    allowed, seconds = limit
    window = int(time.time() // seconds)
    cache_key = f"benefits:rl:{scope}:{key}:{window}"
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
    window = int(time.time() // seconds)
    return (cache.get(f"benefits:rl:{scope}:{key}:{window}") or 0) >= allowed
