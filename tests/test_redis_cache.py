"""The site's Redis cache is Django's, with one Redis client per server reused instead of one per operation."""

import os

import pytest

from citizenpoints.cache import RedisCache

pytestmark = pytest.mark.redis


@pytest.fixture
def cache():
    backend = RedisCache(os.environ.get("REDIS_URL", ""), {"KEY_PREFIX": "test-redis-cache"})
    yield backend
    backend.clear()


def test_every_operation_uses_the_same_client(cache):
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client() is client
    assert cache._cache.get_client(write=True) is client


def test_it_behaves_as_django_s(cache):
    assert cache.add("k", {"points": 12}, timeout=30)
    assert not cache.add("k", "other", timeout=30)
    assert cache.get("k") == {"points": 12}
    cache.set("n", 1)
    assert cache.incr("n", delta=2) == 3
    cache.delete("k")
    assert cache.get("k") is None
