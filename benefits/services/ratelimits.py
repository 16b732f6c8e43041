"""Fixed-window counters in Django's cache (Redis in production, shared by all web processes)."""

import time

from django.core.cache import cache


def rate_hit(*, scope: str, key: str | int, limit: tuple[int, int]) -> bool:
    """Count one hit for `key` in `scope`; False once the window's allowance is spent (the hit is still counted)."""
    allowed, seconds = limit
    window = int(time.time() // seconds)
    cache_key = f"benefits:rl:{scope}:{key}:{window}"
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
