from collections.abc import Callable

import pytest
from pyramid.config import Configurator

from kinto_clone.core import transaction
from kinto_clone.core.cache import memory
from kinto_clone.core.cache.testing import Boom, CacheContract
from kinto_clone.core.transaction import shared_memory_lock


class TestMemoryCache(CacheContract):
    @pytest.fixture
    def cache(self) -> memory.MemoryCache:
        return memory.MemoryCache()

    @pytest.fixture
    def prefixed_cache(self, cache: memory.MemoryCache) -> Callable[[str], memory.MemoryCache]:
        def build(prefix: str) -> memory.MemoryCache:
            # Another view on the same entries, as two processes on one server.
            other = memory.MemoryCache(cache_prefix=prefix, lock=cache._lock)
            other._entries = cache._entries
            return other

        return build


def test_load_from_config_reads_settings() -> None:
    config = Configurator(settings={"cache_prefix": "p_", "cache_max_size_bytes": "1000"})
    cache = memory.load_from_config(config)
    assert cache.prefix == "p_"
    assert cache.max_size_bytes == 1000
    assert cache._lock is shared_memory_lock(config.registry)


def test_load_from_config_defaults() -> None:
    cache = memory.load_from_config(Configurator(settings={}))
    assert cache.prefix == ""
    assert cache.max_size_bytes == 524288


def _filled(max_size: int, count: int) -> memory.MemoryCache:
    cache = memory.MemoryCache(cache_max_size_bytes=max_size)
    for i in range(count):
        cache.set(f"k{i}", "x" * 10, 60)
    return cache


def test_oldest_entries_are_evicted_beyond_max_size() -> None:
    # Each entry weighs len("kN") + len('"xxxxxxxxxx"') = 14.
    cache = _filled(max_size=14 * 3, count=5)
    assert [cache.get(f"k{i}") for i in range(5)] == [None, None] + ["x" * 10] * 3


def test_rewritten_entries_count_as_new() -> None:
    cache = _filled(max_size=14 * 3, count=3)
    cache.set("k0", "x" * 10, 60)
    cache.set("k3", "x" * 10, 60)
    assert cache.get("k0") is not None
    assert cache.get("k1") is None


def test_expired_entries_are_evicted_first(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _filled(max_size=14 * 3, count=2)
    now = memory.time.time()
    cache.set("k2", "x" * 10, 1)
    monkeypatch.setattr(memory.time, "time", lambda: now + 2)
    cache.set("k3", "x" * 10, 60)
    assert [cache.get(f"k{i}") for i in range(4)] == ["x" * 10, "x" * 10, None, "x" * 10]


def test_an_oversized_value_is_kept_alone() -> None:
    cache = _filled(max_size=30, count=2)
    cache.set("big", "y" * 100, 60)
    assert cache.get("big") == "y" * 100
    assert cache.get("k0") is None
    assert cache.get("k1") is None


def test_size_is_freed_by_delete_and_overwrite() -> None:
    cache = _filled(max_size=14 * 2, count=2)
    cache.delete("k0")
    cache.set("k1", "x" * 10, 60)
    cache.set("k2", "x" * 10, 60)
    assert cache.get("k1") == "x" * 10
    assert cache.get("k2") == "x" * 10


def test_no_limit_without_max_size() -> None:
    cache = memory.MemoryCache(cache_max_size_bytes=None)
    for i in range(100):
        cache.set(f"k{i}", "x" * 1000, 60)
    assert cache.get("k0") == "x" * 1000


def test_rollback_restores_evicted_entries() -> None:
    cache = _filled(max_size=14 * 2, count=2)
    with pytest.raises(Boom), transaction.atomic():
        cache.set("k2", "x" * 10, 60)
        assert cache.get("k0") is None
        raise Boom
    assert [cache.get(f"k{i}") for i in range(3)] == ["x" * 10, "x" * 10, None]
