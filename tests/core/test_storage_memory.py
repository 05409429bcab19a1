import threading

import pytest
from pyramid.config import Configurator

from kinto_clone.core import transaction
from kinto_clone.core.storage import COMPARISON, Filter, Sort
from kinto_clone.core.storage.memory import MemoryStorage, load_from_config
from kinto_clone.core.storage.testing import StorageContract


class TestMemoryStorage(StorageContract):
    def make_storage(self):
        return MemoryStorage()


class FrozenClock:
    """A clock the test moves by hand, to force same-millisecond writes."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock():
    return FrozenClock(1_000_000)


@pytest.fixture
def frozen(clock):
    return MemoryStorage(clock=clock)


def test_writes_in_the_same_millisecond_are_bumped_by_one(frozen, clock):
    stamps = [frozen.create("r", "/p", {})["last_modified"] for _ in range(3)]
    assert stamps == [1_000_000, 1_000_001, 1_000_002]


def test_timestamps_keep_increasing_when_the_clock_goes_back(frozen, clock):
    first = frozen.create("r", "/p", {})["last_modified"]
    clock.now = -1
    second = frozen.create("r", "/p", {})["last_modified"]
    assert second == first + 1


def test_clock_is_used_once_it_moves_past_the_group(frozen, clock):
    frozen.create("r", "/p", {})
    clock.now += 50
    assert frozen.create("r", "/p", {})["last_modified"] == 1_000_050


def test_same_millisecond_groups_do_not_interfere(frozen, clock):
    assert frozen.create("r", "/a", {})["last_modified"] == 1_000_000
    assert frozen.create("r", "/b", {})["last_modified"] == 1_000_000


def test_list_all_is_capped_by_max_fetch_size():
    storage = MemoryStorage(max_fetch_size=3)
    for n in range(6):
        storage.create("r", "/p", {"n": n})
    assert len(storage.list_all("r", "/p")) == 3
    # One more than the cap when a limit is asked: the resource layer's
    # "is there another page" probe.
    assert len(storage.list_all("r", "/p", limit=10)) == 4
    assert len(storage.list_all("r", "/p", limit=2)) == 2


def test_delete_all_is_capped_by_max_fetch_size():
    storage = MemoryStorage(max_fetch_size=2)
    for _ in range(5):
        storage.create("r", "/p", {})
    assert len(storage.delete_all("r", "/p")) == 2
    assert len(storage.delete_all("r", "/p", limit=10)) == 2
    assert storage.count_all("r", "/p") == 1


def test_load_from_config_reads_settings_and_shares_the_lock():
    config = Configurator(settings={"storage_max_fetch_size": "2"})
    storage = load_from_config(config)
    for _ in range(4):
        storage.create("r", "/p", {})
    assert len(storage.list_all("r", "/p")) == 2
    # Another memory backend of the app waits for this one's transaction.
    neighbour = MemoryStorage(lock=transaction.shared_memory_lock(config.registry))
    seen = []
    reader = threading.Thread(target=lambda: seen.append(neighbour.count_all("r", "/p")))
    with transaction.atomic():
        storage.create("r", "/p", {})
        reader.start()
        reader.join(timeout=0.1)
        assert reader.is_alive()
    reader.join(timeout=5)
    assert seen == [0]


def test_load_from_config_defaults_to_ten_thousand():
    storage = load_from_config(Configurator(settings={}))
    for n in range(10_001):
        storage.create("r", "/p", {"n": n})
    assert len(storage.list_all("r", "/p")) == 10_000


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        pytest.param(lambda s: s.get("r", "/p", "x")["id"], "x", id="get"),
        pytest.param(lambda s: list(s.get_many("r", "/p", ["x"])), ["x"], id="get_many"),
        pytest.param(lambda s: len(s.list_all("r", "/p")), 1, id="list_all"),
        pytest.param(lambda s: s.count_all("r", "/p"), 1, id="count_all"),
        pytest.param(lambda s: s.resource_timestamp("r", "/p") > 0, True, id="timestamp"),
        pytest.param(lambda s: list(s.all_resources_timestamps("r")), ["/p"], id="all_timestamps"),
    ],
)
def test_uncommitted_writes_are_invisible_to_other_threads(read, expected):
    storage = MemoryStorage()
    seen = []
    reader = threading.Thread(target=lambda: seen.append(read(storage)))
    with transaction.atomic():
        storage.create("r", "/p", {"id": "x"})
        reader.start()
        reader.join(timeout=0.1)
        assert reader.is_alive(), "the reader should wait for the commit"
    reader.join(timeout=5)
    assert seen == [expected]


def test_backends_sharing_the_lock_commit_and_abort_together():
    lock = threading.RLock()
    first, second = MemoryStorage(lock=lock), MemoryStorage(lock=lock)
    with pytest.raises(RuntimeError), transaction.atomic():
        first.create("r", "/p", {"id": "a"})
        second.create("r", "/p", {"id": "b"})
        raise RuntimeError
    assert first.list_all("r", "/p") == [] == second.list_all("r", "/p")


def test_aborted_flush_restores_everything():
    storage = MemoryStorage()
    kept = storage.create("r", "/p", {})
    gone = storage.create("r", "/p", {})
    storage.delete("r", "/p", gone["id"])
    stamps = storage.all_resources_timestamps("r")
    with pytest.raises(RuntimeError), transaction.atomic():
        storage.create("r", "/p", {})
        storage.flush()
        storage.create("r", "/q", {})
        raise RuntimeError
    listed = storage.list_all("r", "/p", include_deleted=True, sorting=[Sort("last_modified", 1)])
    assert [obj["id"] for obj in listed] == [kept["id"], gone["id"]]
    assert storage.all_resources_timestamps("r") == stamps


def test_purge_of_every_resource_keeps_timestamps_of_groups_with_objects(frozen, clock):
    frozen.create("r", "/p", {})
    frozen.create("r", "/p", {})
    tombstone = frozen.delete_all("r", "/p", limit=1)[0]
    frozen.purge_deleted(None, "/p")
    assert frozen.resource_timestamp("r", "/p") == tombstone["last_modified"]


def test_delete_without_tombstone_still_moves_the_group_timestamp(frozen, clock):
    created = frozen.create("r", "/p", {})
    deleted = frozen.delete("r", "/p", created["id"], with_deleted=False)
    assert deleted["last_modified"] > created["last_modified"]
    assert frozen.resource_timestamp("r", "/p") == deleted["last_modified"]


def test_filters_on_custom_id_field_cast_numbers(frozen):
    frozen.create("r", "/p", {"key": "7"}, id_field="key")
    found = frozen.list_all("r", "/p", filters=[Filter("key", 7, COMPARISON.EQ)], id_field="key")
    assert [obj["key"] for obj in found] == ["7"]
