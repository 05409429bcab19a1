import threading

import pytest
from pyramid.config import Configurator

from kinto_clone.core import transaction
from kinto_clone.core.cache import memory as memory_cache
from kinto_clone.core.permission import memory
from kinto_clone.core.permission.testing import Boom, PermissionContract
from kinto_clone.core.transaction import shared_memory_lock


class TestMemoryPermission(PermissionContract):
    @pytest.fixture
    def permission(self) -> memory.MemoryPermission:
        return memory.MemoryPermission()


def test_load_from_config_uses_the_shared_lock() -> None:
    config = Configurator(settings={})
    backend = memory.load_from_config(config)
    assert isinstance(backend, memory.MemoryPermission)
    assert backend._lock is shared_memory_lock(config.registry)


def test_a_failed_request_rolls_back_permissions_and_cache_together() -> None:
    config = Configurator(settings={})
    permission = memory.load_from_config(config)
    cache = memory_cache.load_from_config(config)
    cache.set("nonce", "", 60)
    with pytest.raises(Boom), transaction.atomic():
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        assert cache.delete("nonce") == ""
        raise Boom
    assert permission.get_object_permissions("/buckets/a") == {}
    assert cache.get("nonce") == ""


def test_lock_is_released_after_each_write() -> None:
    permission = memory.MemoryPermission()
    permission.add_principal_to_ace("/buckets/a", "write", "alice")
    acquired = []

    def try_lock() -> None:
        if permission._lock.acquire(timeout=1):
            acquired.append(True)
            permission._lock.release()

    thread = threading.Thread(target=try_lock)
    thread.start()
    thread.join()
    assert acquired == [True]


def test_pattern_without_wildcard_is_an_exact_id() -> None:
    permission = memory.MemoryPermission()
    permission.add_principal_to_ace("/buckets/a.b", "write", "alice")
    permission.add_principal_to_ace("/buckets/axb", "write", "alice")
    permission.delete_object_permissions("/buckets/a.b")
    assert permission.get_accessible_objects(["alice"]) == {"/buckets/axb": {"write"}}
