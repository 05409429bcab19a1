"""The storage contract: one test suite every backend must pass.

Subclass :class:`StorageContract` in a test module and provide the backend,
either by implementing :meth:`StorageContract.make_storage` or by overriding the
``storage`` fixture (for instance to share a database engine between tests)::

    class TestMemoryStorage(StorageContract):
        def make_storage(self):
            return MemoryStorage()

The suite only uses the public :class:`~kinto_clone.core.storage.StorageBase`
API and :mod:`~kinto_clone.core.transaction`, and flushes the backend around
each test.  Expectations are those of Kinto 26.5.0 (timestamps, tombstones,
filter semantics), as exercised by its HTTP API.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kinto_clone.core import transaction
from kinto_clone.core.storage import (
    COMPARISON,
    MISSING,
    Filter,
    Object,
    ObjectNotFoundError,
    ResourceCount,
    Sort,
    StorageBase,
    UnicityError,
    generators,
)
from kinto_clone.core.storage.filtering import compile_filters

__all__ = ["StorageContract"]

RESOURCE = "test"
PARENT = "/parent"
OTHER_PARENT = "/other"


class Boom(Exception):
    """Raised inside transactions to make them abort."""


class NumberedIds(generators.Generator):
    """Predictable ids, to check that ``create`` uses the generator it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.issued = 0

    def __call__(self) -> str:
        self.issued += 1
        return f"number-{self.issued}"


def create(storage: StorageBase, obj: Object | None = None, **kw: Any) -> Object:
    kw.setdefault("resource_name", RESOURCE)
    kw.setdefault("parent_id", PARENT)
    return storage.create(obj=dict(obj or {}), **kw)


def create_and_delete(storage: StorageBase, obj: Object | None = None, **kw: Any) -> Object:
    created = create(storage, obj, **kw)
    kw.setdefault("resource_name", RESOURCE)
    kw.setdefault("parent_id", PARENT)
    return storage.delete(object_id=created["id"], **kw)


def list_all(storage: StorageBase, **kw: Any) -> list[Object]:
    kw.setdefault("resource_name", RESOURCE)
    kw.setdefault("parent_id", PARENT)
    return storage.list_all(**kw)


def count_all(storage: StorageBase, **kw: Any) -> int:
    kw.setdefault("resource_name", RESOURCE)
    kw.setdefault("parent_id", PARENT)
    return storage.count_all(**kw)


def timestamp(storage: StorageBase, **kw: Any) -> int:
    kw.setdefault("resource_name", RESOURCE)
    kw.setdefault("parent_id", PARENT)
    return storage.resource_timestamp(**kw)


def names(objects: list[Object]) -> set[str]:
    return {obj["name"] for obj in objects}


def now_msec() -> int:
    return time.time_ns() // 1_000_000


def mixed_values() -> list[Object]:
    """One object per kind of JSON value in ``v``, in jsonb order, then one without.

    As in PostgreSQL, an empty array comes first, before ``null``.
    """
    return [
        {"name": "empty_list", "v": []},
        {"name": "null", "v": None},
        {"name": "empty", "v": ""},
        {"name": "str_a", "v": "a"},
        {"name": "str_b", "v": "b"},
        {"name": "zero", "v": 0},
        {"name": "one", "v": 1},
        {"name": "float", "v": 1.5},
        {"name": "false", "v": False},
        {"name": "true", "v": True},
        {"name": "short_list", "v": [9]},
        {"name": "long_list", "v": [1, 2]},
        {"name": "object", "v": {"k": 1}},
        {"name": "missing"},
    ]


MIXED_ORDER = [obj["name"] for obj in mixed_values()]


def _all_but(*excluded: str) -> set[str]:
    return set(MIXED_ORDER) - set(excluded)


def _from(first: str) -> set[str]:
    return set(MIXED_ORDER[MIXED_ORDER.index(first) :])


def _up_to(last: str) -> set[str]:
    return set(MIXED_ORDER[: MIXED_ORDER.index(last) + 1])


MIXED_FILTER_CASES = [
    pytest.param(COMPARISON.EQ, None, {"null"}, id="eq-null"),
    pytest.param(COMPARISON.EQ, "", {"empty"}, id="eq-empty-string"),
    pytest.param(COMPARISON.EQ, 1, {"one"}, id="eq-int-not-true"),
    pytest.param(COMPARISON.EQ, 1.0, {"one"}, id="eq-float-equals-int"),
    pytest.param(COMPARISON.EQ, True, {"true"}, id="eq-true-not-one"),
    pytest.param(COMPARISON.EQ, "1", set(), id="eq-no-implicit-cast"),
    pytest.param(COMPARISON.EQ, [9], {"short_list"}, id="eq-array"),
    pytest.param(COMPARISON.EQ, {"k": 1}, {"object"}, id="eq-object"),
    pytest.param(COMPARISON.NOT, 1, _all_but("one"), id="not-includes-missing"),
    pytest.param(COMPARISON.NOT, None, _all_but("null"), id="not-null"),
    pytest.param(COMPARISON.LT, "", {"empty_list", "null"}, id="lt-empty-string"),
    pytest.param(COMPARISON.LT, "b", _up_to("str_a"), id="lt-string"),
    pytest.param(COMPARISON.EQ, [], {"empty_list"}, id="eq-empty-array"),
    pytest.param(COMPARISON.LT, None, {"empty_list"}, id="lt-null-empty-array"),
    pytest.param(COMPARISON.GT, [], _all_but("empty_list"), id="gt-empty-array"),
    pytest.param(COMPARISON.MAX, [], {"empty_list"}, id="max-empty-array"),
    pytest.param(COMPARISON.NOT, [], _all_but("empty_list"), id="not-empty-array"),
    pytest.param(COMPARISON.IN, [[], None], {"empty_list", "null"}, id="in-empty-array"),
    pytest.param(COMPARISON.MAX, 0, _up_to("zero"), id="max-number"),
    pytest.param(COMPARISON.GT, 1, _from("float"), id="gt-number-includes-missing"),
    pytest.param(COMPARISON.MIN, 1, _from("one"), id="min-number-includes-missing"),
    pytest.param(COMPARISON.LT, False, _up_to("float"), id="lt-false"),
    pytest.param(COMPARISON.GT, True, _from("short_list"), id="gt-true"),
    pytest.param(COMPARISON.LT, [1, 2], _up_to("short_list"), id="lt-array-by-length"),
    pytest.param(COMPARISON.GT, [9], _from("long_list"), id="gt-array"),
    pytest.param(COMPARISON.LT, {}, _up_to("long_list"), id="lt-empty-object"),
    pytest.param(COMPARISON.IN, [1, "a", None], {"one", "str_a", "null"}, id="in-mixed"),
    pytest.param(COMPARISON.IN, (True,), {"true"}, id="in-tuple-true-not-one"),
    pytest.param(COMPARISON.IN, [], set(), id="in-empty"),
    pytest.param(COMPARISON.EXCLUDE, [1, "a"], _all_but("one", "str_a"), id="exclude-mixed"),
    pytest.param(COMPARISON.EXCLUDE, [], set(MIXED_ORDER), id="exclude-empty"),
    pytest.param(COMPARISON.HAS, True, _all_but("missing"), id="has-true-null-counts"),
    pytest.param(COMPARISON.HAS, False, {"missing"}, id="has-false"),
    pytest.param(COMPARISON.EQ, MISSING, {"missing"}, id="eq-missing"),
    pytest.param(COMPARISON.LT, MISSING, _all_but("missing"), id="lt-missing"),
    pytest.param(COMPARISON.MAX, MISSING, set(MIXED_ORDER), id="max-missing"),
    pytest.param(COMPARISON.GT, MISSING, set(), id="gt-missing"),
    pytest.param(COMPARISON.MIN, MISSING, {"missing"}, id="min-missing"),
]

# Objects of one resource spread over parents, as accounts are (one parent
# each) or records listed across collections: ``(parent_id, object)``.
SPREAD = [
    ("/p/a", {"id": "alice", "name": "a1", "v": 1, "s": "Foo", "tags": ["x", "y"]}),
    ("/p/a", {"id": "bob", "name": "b1", "v": "b", "tags": ["y"]}),
    ("/p/b", {"id": "alice", "name": "a2", "v": 2, "s": "bar", "tags": []}),
    ("/p/b", {"id": "carol", "name": "c2", "v": None, "s": "foobar"}),
    ("/q/c", {"id": "dave", "name": "d3", "v": [1], "s": "baz", "tags": ["x"]}),
]
# A timestamp in the filter value: that of the third object of SPREAD.
MIDDLE_STAMP = "<last_modified of a2>"

# Every filter kind, on a data field and on the id and timestamp columns, with
# the names it selects among the live objects of SPREAD (``None``: depends on
# the timestamps the backend gave).
SPREAD_FILTER_CASES = [
    pytest.param("v", COMPARISON.EQ, 1, {"a1"}, id="eq"),
    pytest.param("v", COMPARISON.EQ, [1], {"d3"}, id="eq-array"),
    pytest.param("v", COMPARISON.IN, [1, "b"], {"a1", "b1"}, id="in"),
    pytest.param("v", COMPARISON.NOT, 1, {"b1", "a2", "c2", "d3"}, id="not"),
    pytest.param("v", COMPARISON.EXCLUDE, [1, None], {"b1", "a2", "d3"}, id="exclude"),
    pytest.param("s", COMPARISON.LIKE, "foo", {"a1", "c2"}, id="like"),
    pytest.param("tags", COMPARISON.HAS, True, {"a1", "b1", "a2", "d3"}, id="has"),
    pytest.param("tags", COMPARISON.HAS, False, {"c2"}, id="has-not"),
    pytest.param("v", COMPARISON.LT, 2, {"a1", "b1", "c2"}, id="lt"),
    pytest.param("v", COMPARISON.GT, 1, {"a2", "d3"}, id="gt"),
    pytest.param("v", COMPARISON.MIN, 1, {"a1", "a2", "d3"}, id="min"),
    pytest.param("v", COMPARISON.MAX, "b", {"b1", "c2"}, id="max"),
    pytest.param("tags", COMPARISON.CONTAINS, ["x"], {"a1", "d3"}, id="contains"),
    pytest.param("tags", COMPARISON.CONTAINS_ANY, ["y", "z"], {"a1", "b1"}, id="contains-any"),
    pytest.param("id", COMPARISON.EQ, "alice", {"a1", "a2"}, id="id-eq"),
    pytest.param("id", COMPARISON.EQ, 42, set(), id="id-eq-number"),
    pytest.param("id", COMPARISON.IN, ["alice", "dave"], {"a1", "a2", "d3"}, id="id-in"),
    pytest.param("id", COMPARISON.NOT, "alice", {"b1", "c2", "d3"}, id="id-not"),
    pytest.param("id", COMPARISON.EXCLUDE, ["alice", "bob"], {"c2", "d3"}, id="id-exclude"),
    pytest.param("id", COMPARISON.LIKE, "a*", {"a1", "a2"}, id="id-like"),
    pytest.param("id", COMPARISON.HAS, True, {"a1", "b1", "a2", "c2", "d3"}, id="id-has"),
    pytest.param("id", COMPARISON.LT, "bob", {"a1", "a2"}, id="id-lt"),
    pytest.param("id", COMPARISON.GT, "bob", {"c2", "d3"}, id="id-gt"),
    pytest.param("id", COMPARISON.MIN, "carol", {"c2", "d3"}, id="id-min"),
    pytest.param("id", COMPARISON.MAX, "bob", {"a1", "b1", "a2"}, id="id-max"),
    pytest.param("last_modified", COMPARISON.EQ, MIDDLE_STAMP, None, id="stamp-eq"),
    pytest.param("last_modified", COMPARISON.IN, [MIDDLE_STAMP], None, id="stamp-in"),
    pytest.param("last_modified", COMPARISON.NOT, MIDDLE_STAMP, None, id="stamp-not"),
    pytest.param("last_modified", COMPARISON.EXCLUDE, [MIDDLE_STAMP], None, id="stamp-exclude"),
    pytest.param("last_modified", COMPARISON.LT, MIDDLE_STAMP, None, id="stamp-lt"),
    pytest.param("last_modified", COMPARISON.GT, MIDDLE_STAMP, None, id="stamp-gt"),
    pytest.param("last_modified", COMPARISON.MIN, MIDDLE_STAMP, None, id="stamp-min"),
    pytest.param("last_modified", COMPARISON.MAX, MIDDLE_STAMP, None, id="stamp-max"),
    pytest.param("last_modified", COMPARISON.HAS, True, None, id="stamp-has"),
]


LIKE_CASES = [
    pytest.param("FoO", {"foo", "aafooll", "FOOBAR"}, id="implicit-wildcards-any-case"),
    pytest.param("foo*", {"foo", "FOOBAR"}, id="prefix"),
    pytest.param("*bar", {"bar", "FOOBAR"}, id="suffix"),
    pytest.param("a*c", {"a.c", "abc"}, id="inner-wildcard-anchored"),
    pytest.param("a.c", {"a.c"}, id="dot-is-literal"),
    pytest.param("2", {"123"}, id="number-matches-its-text"),
    pytest.param("null", set(), id="null-never-matches"),
]

CONTAINS_CASES = [
    pytest.param(COMPARISON.CONTAINS, ["a"], {"abc"}, id="contains-one"),
    pytest.param(COMPARISON.CONTAINS, ["a", "c"], {"abc"}, id="contains-all"),
    pytest.param(COMPARISON.CONTAINS, ["b"], {"abc", "b"}, id="contains-several-objects"),
    pytest.param(COMPARISON.CONTAINS, "b", {"abc", "b"}, id="contains-scalar"),
    pytest.param(COMPARISON.CONTAINS, ["a", "z"], set(), id="contains-not-all"),
    pytest.param(COMPARISON.CONTAINS, [2], {"numbers"}, id="contains-number"),
    pytest.param(COMPARISON.CONTAINS, ["2"], set(), id="contains-no-implicit-cast"),
    pytest.param(COMPARISON.CONTAINS, [{"x": 1}], {"objects"}, id="contains-object"),
    pytest.param(
        COMPARISON.CONTAINS, [], {"abc", "b", "numbers", "objects", "empty"}, id="contains-none"
    ),
    pytest.param(COMPARISON.CONTAINS_ANY, ["a", 2], {"abc", "numbers"}, id="any-mixed"),
    pytest.param(COMPARISON.CONTAINS_ANY, ["z"], set(), id="any-no-overlap"),
    pytest.param(COMPARISON.CONTAINS_ANY, "b", {"abc", "b"}, id="any-scalar"),
    pytest.param(COMPARISON.CONTAINS_ANY, [], set(), id="any-empty"),
    pytest.param(COMPARISON.CONTAINS_ANY, [{"k": 1}], set(), id="any-not-on-objects"),
]


def keyset_rules(sorting: list[Sort], last: Object) -> list[list[Filter]]:
    """The pagination rules the resource layer builds from the last object of a page."""
    rules = []
    for position, (field, direction) in enumerate(sorting):
        rule = [Filter(f, last.get(f, MISSING), COMPARISON.EQ) for f, _ in sorting[:position]]
        operator = COMPARISON.GT if direction > 0 else COMPARISON.LT
        rule.append(Filter(field, last.get(field, MISSING), operator))
        rules.append(rule)
    return rules


class StorageContract:
    """Behaviour shared by every storage backend; subclass it to run it."""

    def make_storage(self) -> StorageBase:
        raise NotImplementedError("backend test classes provide make_storage()")

    @pytest.fixture
    def storage(self) -> Iterator[StorageBase]:
        backend = self.make_storage()
        backend.flush()
        yield backend
        backend.flush()

    # Administration

    def test_is_a_storage_backend(self, storage):
        assert isinstance(storage, StorageBase)

    def test_initialize_schema_is_idempotent(self, storage):
        assert isinstance(storage.initialize_schema(), list)
        assert isinstance(storage.initialize_schema(), list)
        assert isinstance(storage.initialize_schema(dry_run=True), list)

    def test_healthcheck_is_true_when_working(self, storage):
        assert storage.healthcheck() is True

    def test_flush_removes_objects_tombstones_and_timestamps(self, storage):
        create(storage)
        create_and_delete(storage)
        timestamp(storage, parent_id="/empty")
        storage.flush()
        assert list_all(storage, include_deleted=True) == []
        assert storage.all_resources_timestamps(RESOURCE) == {}

    def test_storage_is_usable_after_flush(self, storage):
        storage.flush()
        created = create(storage, {"a": 1})
        assert storage.get(RESOURCE, PARENT, created["id"]) == created

    # Create

    def test_create_generates_an_id_with_the_backend_generator(self, storage):
        created = create(storage)
        assert storage.id_generator.match(created["id"])

    def test_create_uses_the_given_id_generator(self, storage):
        created = create(storage, id_generator=NumberedIds())
        assert created["id"] == "number-1"

    def test_create_keeps_the_provided_id(self, storage):
        assert create(storage, {"id": "chosen"})["id"] == "chosen"

    def test_create_returns_the_object_with_a_timestamp(self, storage):
        created = create(storage, {"title": "hello"})
        assert created["title"] == "hello"
        assert isinstance(created["last_modified"], int)
        assert storage.get(RESOURCE, PARENT, created["id"]) == created

    def test_create_does_not_modify_its_argument(self, storage):
        data = {"title": "hello"}
        storage.create(RESOURCE, PARENT, data)
        assert data == {"title": "hello"}

    def test_create_raises_unicity_error_with_existing_object(self, storage):
        existing = create(storage, {"id": "taken", "v": 1})
        with pytest.raises(UnicityError) as caught:
            create(storage, {"id": "taken", "v": 2})
        assert caught.value.field == "id"
        assert caught.value.existing == existing
        assert storage.get(RESOURCE, PARENT, "taken")["v"] == 1

    def test_create_replaces_a_tombstone(self, storage):
        create_and_delete(storage, {"id": "phoenix"})
        reborn = create(storage, {"id": "phoenix", "again": True})
        assert list_all(storage, include_deleted=True) == [reborn]
        assert count_all(storage) == 1

    def test_create_same_id_in_other_parent_or_resource(self, storage):
        create(storage, {"id": "same"})
        create(storage, {"id": "same"}, parent_id=OTHER_PARENT)
        create(storage, {"id": "same"}, resource_name="other")
        assert count_all(storage, parent_id="*") == 2

    def test_create_supports_unicode_parent_and_id(self, storage):
        created = create(storage, {"id": "éçà", "text": "日本"}, parent_id="/buckets/ünï")
        assert storage.get(RESOURCE, "/buckets/ünï", "éçà") == created

    def test_create_rejects_values_that_are_not_json(self, storage):
        with pytest.raises(TypeError):
            create(storage, {"raw": b"bytes"})
        assert list_all(storage) == []

    def test_create_supports_custom_field_names(self, storage):
        created = create(storage, {"key": "k1"}, id_field="key", modified_field="stamp")
        assert created["key"] == "k1"
        assert isinstance(created["stamp"], int)
        assert "last_modified" not in created

    # Get

    def test_get_returns_the_stored_object(self, storage):
        created = create(storage, {"nested": {"a": [1, 2]}})
        assert storage.get(RESOURCE, PARENT, created["id"]) == created

    def test_get_raises_when_unknown(self, storage):
        with pytest.raises(ObjectNotFoundError):
            storage.get(RESOURCE, PARENT, "unknown")

    def test_get_raises_when_deleted(self, storage):
        tombstone = create_and_delete(storage)
        with pytest.raises(ObjectNotFoundError):
            storage.get(RESOURCE, PARENT, tombstone["id"])

    def test_get_is_confined_to_the_parent(self, storage):
        created = create(storage)
        with pytest.raises(ObjectNotFoundError):
            storage.get(RESOURCE, OTHER_PARENT, created["id"])

    def test_get_is_confined_to_the_resource(self, storage):
        created = create(storage)
        with pytest.raises(ObjectNotFoundError):
            storage.get("other", PARENT, created["id"])

    # Get many

    def test_get_many_returns_objects_by_id(self, storage):
        first = create(storage, {"n": 1})
        second = create(storage, {"n": 2})
        create(storage, {"n": 3})
        found = storage.get_many(RESOURCE, PARENT, [first["id"], second["id"]])
        assert found == {first["id"]: first, second["id"]: second}

    def test_get_many_skips_unknown_and_deleted(self, storage):
        live = create(storage)
        tombstone = create_and_delete(storage)
        found = storage.get_many(RESOURCE, PARENT, [live["id"], tombstone["id"], "nope"])
        assert list(found) == [live["id"]]

    def test_get_many_without_ids_is_empty(self, storage):
        create(storage)
        assert storage.get_many(RESOURCE, PARENT, []) == {}

    def test_get_many_is_confined_to_the_parent(self, storage):
        created = create(storage)
        assert storage.get_many(RESOURCE, OTHER_PARENT, [created["id"]]) == {}

    # Update

    def test_update_replaces_the_whole_object(self, storage):
        created = create(storage, {"old": 1, "kept": 1})
        updated = storage.update(RESOURCE, PARENT, created["id"], {"kept": 2})
        assert storage.get(RESOURCE, PARENT, created["id"]) == updated
        assert updated["kept"] == 2
        assert "old" not in updated

    def test_update_creates_the_object_when_missing(self, storage):
        updated = storage.update(RESOURCE, PARENT, "new-one", {"a": 1})
        assert updated["id"] == "new-one"
        assert storage.get(RESOURCE, PARENT, "new-one") == updated

    def test_update_forces_the_id_of_the_url(self, storage):
        updated = storage.update(RESOURCE, PARENT, "real", {"id": "fake"})
        assert updated["id"] == "real"
        with pytest.raises(ObjectNotFoundError):
            storage.get(RESOURCE, PARENT, "fake")

    def test_update_assigns_a_new_timestamp(self, storage):
        created = create(storage)
        updated = storage.update(RESOURCE, PARENT, created["id"], {"a": 1})
        assert updated["last_modified"] > created["last_modified"]

    def test_update_replaces_a_tombstone(self, storage):
        tombstone = create_and_delete(storage)
        storage.update(RESOURCE, PARENT, tombstone["id"], {"back": True})
        objects = list_all(storage, include_deleted=True)
        assert [obj.get("deleted") for obj in objects] == [None]

    def test_update_in_other_parent_leaves_original_untouched(self, storage):
        created = create(storage, {"v": 1})
        storage.update(RESOURCE, OTHER_PARENT, created["id"], {"v": 2})
        assert storage.get(RESOURCE, PARENT, created["id"]) == created
        assert storage.get(RESOURCE, OTHER_PARENT, created["id"])["v"] == 2

    def test_update_does_not_modify_its_argument(self, storage):
        data = {"v": 1}
        storage.update(RESOURCE, PARENT, "x", data)
        assert data == {"v": 1}

    def test_update_rejects_values_that_are_not_json(self, storage):
        created = create(storage, {"v": 1})
        with pytest.raises(TypeError):
            storage.update(RESOURCE, PARENT, created["id"], {"raw": b"bytes"})
        assert storage.get(RESOURCE, PARENT, created["id"]) == created

    # Delete

    def test_delete_returns_a_tombstone(self, storage):
        created = create(storage, {"secret": "x"})
        tombstone = storage.delete(RESOURCE, PARENT, created["id"])
        assert tombstone == {
            "id": created["id"],
            "last_modified": tombstone["last_modified"],
            "deleted": True,
        }
        assert tombstone["last_modified"] > created["last_modified"]

    def test_delete_removes_the_object(self, storage):
        created = create(storage)
        storage.delete(RESOURCE, PARENT, created["id"])
        assert list_all(storage) == []
        assert count_all(storage) == 0

    def test_delete_raises_when_unknown(self, storage):
        with pytest.raises(ObjectNotFoundError):
            storage.delete(RESOURCE, PARENT, "unknown")

    def test_delete_raises_when_already_deleted(self, storage):
        tombstone = create_and_delete(storage)
        with pytest.raises(ObjectNotFoundError):
            storage.delete(RESOURCE, PARENT, tombstone["id"])
        with pytest.raises(ObjectNotFoundError):
            storage.delete(RESOURCE, PARENT, tombstone["id"], with_deleted=False)

    def test_delete_is_confined_to_the_parent(self, storage):
        created = create(storage)
        with pytest.raises(ObjectNotFoundError):
            storage.delete(RESOURCE, OTHER_PARENT, created["id"])
        assert storage.get(RESOURCE, PARENT, created["id"]) == created

    def test_delete_without_tombstone(self, storage):
        created = create(storage)
        storage.delete(RESOURCE, PARENT, created["id"], with_deleted=False)
        assert list_all(storage, include_deleted=True) == []

    def test_deleting_twice_renews_the_tombstone(self, storage):
        first = create_and_delete(storage, {"id": "twice"})
        second = create_and_delete(storage, {"id": "twice"})
        assert second["last_modified"] > first["last_modified"]
        assert list_all(storage, include_deleted=True) == [second]

    def test_delete_supports_custom_field_names(self, storage):
        created = create(storage, {"key": "k1"}, id_field="key", modified_field="stamp")
        tombstone = storage.delete(
            RESOURCE,
            PARENT,
            created["key"],
            id_field="key",
            modified_field="stamp",
            deleted_field="gone",
        )
        assert tombstone == {"key": "k1", "stamp": tombstone["stamp"], "gone": True}

    # Timestamps

    def test_timestamps_are_milliseconds_of_the_clock(self, storage):
        before = now_msec()
        created = create(storage)
        after = now_msec()
        assert before <= created["last_modified"] <= after + 1

    def test_empty_group_gets_a_timestamp_of_now(self, storage):
        before = now_msec()
        value = timestamp(storage)
        assert isinstance(value, int)
        assert before <= value <= now_msec()

    def test_empty_group_timestamp_is_stable(self, storage):
        first = timestamp(storage)
        time.sleep(0.003)
        assert timestamp(storage) == first

    def test_group_timestamp_is_the_last_write(self, storage):
        created = create(storage)
        assert timestamp(storage) == created["last_modified"]

    def test_create_advances_the_timestamp(self, storage):
        create(storage)
        before = timestamp(storage)
        create(storage)
        assert timestamp(storage) > before

    def test_update_advances_the_timestamp(self, storage):
        created = create(storage)
        before = timestamp(storage)
        storage.update(RESOURCE, PARENT, created["id"], {"v": 2})
        assert timestamp(storage) > before

    def test_delete_advances_the_timestamp_to_the_tombstone(self, storage):
        created = create(storage)
        before = timestamp(storage)
        tombstone = storage.delete(RESOURCE, PARENT, created["id"])
        assert timestamp(storage) == tombstone["last_modified"] > before

    def test_fast_writes_get_unique_increasing_timestamps(self, storage):
        stamps = [create(storage)["last_modified"] for _ in range(50)]
        assert stamps == sorted(stamps)
        assert len(set(stamps)) == len(stamps)

    def test_mixed_writes_get_unique_increasing_timestamps(self, storage):
        stamps = []
        for _ in range(10):
            created = create(storage)
            stamps.append(created["last_modified"])
            updated = storage.update(RESOURCE, PARENT, created["id"], {"v": 1})
            stamps.append(updated["last_modified"])
            stamps.append(storage.delete(RESOURCE, PARENT, created["id"])["last_modified"])
        assert stamps == sorted(set(stamps))

    def test_groups_have_independent_timestamps(self, storage):
        other = timestamp(storage, parent_id=OTHER_PARENT)
        create(storage)
        create(storage, resource_name="other")
        assert timestamp(storage, parent_id=OTHER_PARENT) == other

    def test_create_keeps_given_timestamp_in_empty_group(self, storage):
        created = create(storage, {"last_modified": 1_448_881_675_541})
        assert created["last_modified"] == 1_448_881_675_541
        assert timestamp(storage) == 1_448_881_675_541

    def test_create_keeps_given_timestamp_in_the_future(self, storage):
        current = create(storage)["last_modified"]
        created = create(storage, {"last_modified": current + 10_000})
        assert created["last_modified"] == current + 10_000
        assert timestamp(storage) == current + 10_000

    def test_create_replaces_given_timestamp_in_the_past(self, storage):
        # Kinto keeps it, so a `_since` poller past it would never see the
        # object: sync correctness wins, the write gets a fresh timestamp.
        current = create(storage)["last_modified"]
        created = create(storage, {"last_modified": current - 10})
        assert created["last_modified"] > current
        assert storage.get(RESOURCE, PARENT, created["id"])["last_modified"] > current
        assert timestamp(storage) == created["last_modified"]

    def test_create_bumps_given_timestamp_equal_to_current(self, storage):
        current = create(storage)["last_modified"]
        created = create(storage, {"last_modified": current})
        assert created["last_modified"] > current
        assert timestamp(storage) == created["last_modified"]

    def test_update_keeps_given_timestamp_in_the_future(self, storage):
        created = create(storage)
        future = created["last_modified"] + 10_000
        updated = storage.update(RESOURCE, PARENT, created["id"], {"last_modified": future})
        assert updated["last_modified"] == future
        assert storage.get(RESOURCE, PARENT, created["id"])["last_modified"] == future
        assert timestamp(storage) == future

    def test_update_replaces_given_timestamp_in_the_past(self, storage):
        created = create(storage)
        current = timestamp(storage)
        updated = storage.update(RESOURCE, PARENT, created["id"], {"last_modified": current - 10})
        assert updated["last_modified"] > current
        assert timestamp(storage) == updated["last_modified"]

    def test_update_bumps_given_timestamp_equal_to_current(self, storage):
        created = create(storage)
        updated = storage.update(RESOURCE, PARENT, created["id"], created)
        assert updated["last_modified"] > created["last_modified"]
        assert timestamp(storage) == updated["last_modified"]

    def test_writes_after_a_future_timestamp_go_beyond_it(self, storage):
        current = create(storage)["last_modified"]
        create(storage, {"last_modified": current + 10_000})
        assert create(storage)["last_modified"] > current + 10_000

    def test_delete_keeps_given_timestamp_in_the_future(self, storage):
        created = create(storage)
        future = created["last_modified"] + 10_000
        tombstone = storage.delete(RESOURCE, PARENT, created["id"], last_modified=future)
        assert tombstone["last_modified"] == future
        assert timestamp(storage) == future

    def test_delete_bumps_given_timestamp_equal_to_current(self, storage):
        created = create(storage)
        current = created["last_modified"]
        tombstone = storage.delete(RESOURCE, PARENT, created["id"], last_modified=current)
        assert tombstone["last_modified"] > current
        assert timestamp(storage) == tombstone["last_modified"]

    def test_delete_replaces_given_timestamp_in_the_past(self, storage):
        created = create(storage)
        current = created["last_modified"]
        tombstone = storage.delete(RESOURCE, PARENT, created["id"], last_modified=current - 5)
        assert tombstone["last_modified"] > current
        assert timestamp(storage) == tombstone["last_modified"]

    def test_all_resources_timestamps_by_parent(self, storage):
        storage.create("bucket", "", {"id": "main"})
        storage.create("collection", "/main", {"id": "cid1"})
        storage.create("collection", "/main", {"id": "cid2"})
        storage.create("record", "/main/cid2", {})
        storage.create("record", "/main/cid2", {})
        empty = storage.resource_timestamp("record", "/main/cid1")
        assert storage.all_resources_timestamps("bucket") == {
            "": storage.resource_timestamp("bucket", "")
        }
        assert storage.all_resources_timestamps("collection") == {
            "/main": storage.resource_timestamp("collection", "/main")
        }
        assert storage.all_resources_timestamps("record") == {
            "/main/cid1": empty,
            "/main/cid2": storage.resource_timestamp("record", "/main/cid2"),
        }

    def test_all_resources_timestamps_of_unknown_resource(self, storage):
        create(storage)
        assert storage.all_resources_timestamps("unknown") == {}

    def test_pattern_timestamp_is_the_newest_of_its_groups(self, storage):
        create(storage, parent_id="/p/a")
        newest = create(storage, parent_id="/p/b")
        create(storage, parent_id="/q/c", resource_name="other")
        assert timestamp(storage, parent_id="/p/*") == newest["last_modified"]
        assert timestamp(storage, parent_id="*") == newest["last_modified"]
        tombstone = create_and_delete(storage, parent_id="/p/a")
        assert timestamp(storage, parent_id="*") == tombstone["last_modified"]

    def test_pattern_timestamp_follows_writes_after_its_first_read(self, storage):
        """An administrator lists accounts (one parent each), then someone signs
        up: the list, cut at its timestamp (its ETag), must show them."""
        before = timestamp(storage, parent_id="*")
        assert timestamp(storage, parent_id="*") == before
        created = [create(storage, parent_id=f"/{name}") for name in ("alice", "bob")]
        current = timestamp(storage, parent_id="*")
        assert current == created[-1]["last_modified"] >= before
        up_to_etag = [Filter("last_modified", current, COMPARISON.MAX)]
        listed = list_all(storage, parent_id="*", filters=up_to_etag)
        assert sorted(obj["id"] for obj in listed) == sorted(obj["id"] for obj in created)

    def test_pattern_timestamp_ignores_other_groups(self, storage):
        first = create(storage, parent_id="/p/a")
        create(storage, parent_id="/q/c")
        create(storage, parent_id="/p/b", resource_name="other")
        assert timestamp(storage, parent_id="/p/*") == first["last_modified"]

    def test_pattern_timestamp_without_groups_is_stable(self, storage):
        empty = timestamp(storage, parent_id="/nothing/*")
        assert timestamp(storage, parent_id="/nothing/*") == empty

    # List

    def test_list_all_returns_live_objects(self, storage):
        created = [create(storage, {"n": n}) for n in range(5)]
        listed = list_all(storage, sorting=[Sort("n", 1)])
        assert listed == created

    def test_list_all_excludes_tombstones_by_default(self, storage):
        live = create(storage)
        create_and_delete(storage)
        assert list_all(storage) == [live]

    def test_list_all_can_include_tombstones(self, storage):
        live = create(storage, {"secret": 1})
        tombstone = create_and_delete(storage, {"secret": 2})
        listed = list_all(storage, include_deleted=True, sorting=[Sort("last_modified", 1)])
        assert listed == [live, tombstone]
        assert set(listed[1]) == {"id", "last_modified", "deleted"}

    def test_list_all_limit(self, storage):
        for n in range(10):
            create(storage, {"n": n})
        assert len(list_all(storage, limit=3)) == 3
        assert len(list_all(storage, limit=30)) == 10

    def test_list_all_limit_applies_after_sorting(self, storage):
        for n in [5, 1, 4, 2, 3]:
            create(storage, {"n": n})
        top = list_all(storage, sorting=[Sort("n", -1)], limit=2)
        assert [obj["n"] for obj in top] == [5, 4]

    def test_list_all_is_confined_to_the_resource(self, storage):
        create(storage)
        create(storage, resource_name="other")
        assert len(list_all(storage)) == 1

    def test_list_all_parent_pattern(self, storage):
        create(storage, parent_id="abc")
        tombstone = create_and_delete(storage, parent_id="abc")
        create(storage, parent_id="efg")
        listed = list_all(storage, parent_id="ab*", include_deleted=True)
        assert len(listed) == 2
        assert tombstone in listed
        assert count_all(storage, parent_id="ab*") == 1

    def test_list_all_parent_pattern_is_anchored(self, storage):
        create(storage, parent_id="abc")
        create(storage, parent_id="xabcx")
        assert len(list_all(storage, parent_id="ab*")) == 1
        assert len(list_all(storage, parent_id="*bc")) == 1
        assert len(list_all(storage, parent_id="*abc*")) == 2

    def test_list_all_parent_pattern_has_only_star_as_wildcard(self, storage):
        create(storage, parent_id="/a.c/x")
        create(storage, parent_id="/abc/x")
        assert len(list_all(storage, parent_id="/a.c/*")) == 1

    def test_list_all_star_matches_every_parent(self, storage):
        create(storage, parent_id="")
        create(storage, parent_id="/a")
        create(storage, parent_id="/a/b")
        assert len(list_all(storage, parent_id="*")) == 3

    def test_list_all_parent_pattern_with_colliding_ids(self, storage):
        first = create(storage, {"id": "same", "secret": 1}, parent_id="abc1")
        second = create(storage, {"id": "same", "secret": 2}, parent_id="abc2")
        listed = list_all(storage, parent_id="abc*", sorting=[Sort("secret", 1)])
        assert listed == [first, second]

    def test_list_all_unknown_group_is_empty(self, storage):
        assert list_all(storage, parent_id="/nothing", include_deleted=True) == []

    def test_list_all_of_one_shape_with_other_bounds_and_parents(self, storage):
        # SQL backends build one statement per shape of query, the parent, ids
        # and timestamps given per execution: each call must use its own.
        stored = [create(storage, {"name": str(n)}) for n in range(4)]
        create(storage, {"name": "other"}, parent_id=OTHER_PARENT)
        for position, obj in enumerate(stored):
            since = Filter("last_modified", obj["last_modified"], COMPARISON.GT)
            after = {str(n) for n in range(position + 1, 4)}
            assert names(list_all(storage, filters=[since])) == after
            by_id = Filter("id", obj["id"], COMPARISON.EQ)
            assert names(list_all(storage, filters=[by_id])) == {str(position)}
            assert names(list_all(storage, filters=[by_id], parent_id=OTHER_PARENT)) == set()
        assert names(list_all(storage, parent_id=OTHER_PARENT)) == {"other"}

    def test_list_all_filters_equal_in_python_differ_in_json(self, storage):
        # 1 == 1.0 == True in Python: a cache of statements keyed on values
        # must not take one for the other.
        for name, value in [
            ("one", 1),
            ("true", True),
            ("text", "1"),
            ("zero", 0),
            ("false", False),
        ]:
            create(storage, {"name": name, "v": value})
        cases = [(1, {"one"}), (True, {"true"}), ("1", {"text"}), (1.0, {"one"})]
        cases += [(0, {"zero"}), (False, {"false"}), (0.0, {"zero"})]
        for value, expected in [*cases, *reversed(cases)]:
            assert (
                names(list_all(storage, filters=[Filter("v", value, COMPARISON.EQ)])) == expected
            )
            found = list_all(storage, filters=[Filter("v", [value], COMPARISON.IN)])
            assert names(found) == expected

    # Filters on several parents at once (``*`` patterns)

    @staticmethod
    def spread_over_parents(storage: StorageBase) -> dict[str, Object]:
        """:data:`SPREAD` stored, and a tombstone in ``/q/c``, by name."""
        stored = {obj["name"]: create(storage, obj, parent_id=parent) for parent, obj in SPREAD}
        create_and_delete(storage, {"id": "erin"}, parent_id="/q/c")
        return stored

    @pytest.mark.parametrize("pattern", ["*", "/p/*"])
    @pytest.mark.parametrize(("field", "operator", "value", "expected"), SPREAD_FILTER_CASES)
    def test_every_filter_kind_across_parents(
        self, storage, pattern, field, operator, value, expected
    ):
        stored = self.spread_over_parents(storage)
        middle = stored["a2"]["last_modified"]
        if value == MIDDLE_STAMP or value == [MIDDLE_STAMP]:
            value = [middle] if isinstance(value, list) else middle
        one = Filter(field, value, operator)
        if expected is None:
            expected = {name for name, obj in stored.items() if compile_filters([one])(obj)}
        parents = {"*": ["/p/a", "/p/b", "/q/c"], "/p/*": ["/p/a", "/p/b"]}[pattern]
        expected = expected & {obj["name"] for parent, obj in SPREAD if parent in parents}
        found = list_all(storage, parent_id=pattern, filters=[one])
        assert names(found) == expected
        assert len(found) == len(expected)
        assert count_all(storage, parent_id=pattern, filters=[one]) == len(expected)
        # Tombstones too: the pattern gives what its parents give one by one.
        with_tombstones = list_all(storage, parent_id=pattern, filters=[one], include_deleted=True)
        one_by_one = [
            obj
            for parent in parents
            for obj in list_all(storage, parent_id=parent, filters=[one], include_deleted=True)
        ]
        key = lambda obj: (obj["id"], obj["last_modified"])  # noqa: E731
        assert sorted(map(key, with_tombstones)) == sorted(map(key, one_by_one))

    # Filters

    @pytest.mark.parametrize(("operator", "value", "expected"), MIXED_FILTER_CASES)
    def test_filter_on_mixed_types(self, storage, operator, value, expected):
        for obj in mixed_values():
            create(storage, obj)
        found = list_all(storage, filters=[Filter("v", value, operator)])
        assert names(found) == expected

    @pytest.mark.parametrize(("operator", "value", "expected"), MIXED_FILTER_CASES)
    def test_filter_on_mixed_types_in_subobjects(self, storage, operator, value, expected):
        for obj in mixed_values():
            nested = {"name": obj.pop("name"), "deep": {"er": obj}}
            create(storage, nested)
        found = list_all(storage, filters=[Filter("deep.er.v", value, operator)])
        assert names(found) == expected

    def test_filter_eq_on_strings(self, storage):
        for phone in ["0566199093", "0781566199", ""]:
            create(storage, {"name": phone, "phone": phone})
        found = list_all(storage, filters=[Filter("phone", "0566199093", COMPARISON.EQ)])
        assert names(found) == {"0566199093"}
        assert names(list_all(storage, filters=[Filter("phone", "", COMPARISON.EQ)])) == {""}

    def test_filter_eq_array_is_exact(self, storage):
        for colors in (["red", "green", "blue"], ["red", "green"], ["green", "red"], []):
            create(storage, {"name": ",".join(colors), "colors": colors})
        found = list_all(storage, filters=[Filter("colors", ["red", "green"], COMPARISON.EQ)])
        assert names(found) == {"red,green"}
        found = list_all(storage, filters=[Filter("colors", [], COMPARISON.EQ)])
        assert names(found) == {""}

    def test_filter_eq_object_is_exact(self, storage):
        create(storage, {"name": "ab", "meta": {"a": 1, "b": 2}})
        create(storage, {"name": "a", "meta": {"a": 1}})
        create(storage, {"name": "abc", "meta": {"a": 1, "b": 2, "c": 3}})
        create(storage, {"name": "empty", "meta": {}})
        found = list_all(storage, filters=[Filter("meta", {"b": 2, "a": 1}, COMPARISON.EQ)])
        assert names(found) == {"ab"}
        assert names(list_all(storage, filters=[Filter("meta", {}, COMPARISON.EQ)])) == {"empty"}

    def test_filter_on_numbers(self, storage):
        for note in [10, 11.5, 8.5, 6, 7.5]:
            create(storage, {"name": str(note), "note": note})
        create(storage, {"name": "none"})
        assert names(list_all(storage, filters=[Filter("note", 9.5, COMPARISON.LT)])) == {
            "8.5",
            "6",
            "7.5",
        }
        assert names(list_all(storage, filters=[Filter("note", 10, COMPARISON.MAX)])) == {
            "10",
            "8.5",
            "6",
            "7.5",
        }

    def test_filter_on_strings_compares_as_text(self, storage):
        for version in ["49.0", "6.0", "53.0b4"]:
            create(storage, {"name": version, "version": version})
        found = list_all(storage, filters=[Filter("version", "50.0", COMPARISON.MIN)])
        assert names(found) == {"6.0", "53.0b4"}
        found = list_all(storage, filters=[Filter("version", 50.0, COMPARISON.MIN)])
        assert names(found) == set()

    def test_filters_are_combined_with_and(self, storage):
        create(storage, {"name": "a", "x": 1, "y": 1})
        create(storage, {"name": "b", "x": 1, "y": 2})
        create(storage, {"name": "c", "x": 2, "y": 1})
        filters = [Filter("x", 1, COMPARISON.EQ), Filter("y", 1, COMPARISON.EQ)]
        assert names(list_all(storage, filters=filters)) == {"a"}

    def test_filter_gt_and_has_combined(self, storage):
        create(storage, {"name": "null", "salary": None})
        create(storage, {"name": "text", "salary": "null"})
        create(storage, {"name": "big", "salary": 10})
        create(storage, {"name": "none"})
        filters = [Filter("salary", 0, COMPARISON.GT), Filter("salary", True, COMPARISON.HAS)]
        assert names(list_all(storage, filters=filters)) == {"big"}

    def test_filter_through_a_non_object_is_missing(self, storage):
        create(storage, {"name": "text", "a": "string"})
        create(storage, {"name": "deep", "a": {"b": 1}})
        assert names(list_all(storage, filters=[Filter("a.b", 1, COMPARISON.EQ)])) == {"deep"}
        found = list_all(storage, filters=[Filter("a.b", False, COMPARISON.HAS)])
        assert names(found) == {"text"}

    def test_filter_eq_on_id(self, storage):
        create(storage, {"id": "a", "name": "a"})
        create(storage, {"id": "b", "name": "b"})
        assert names(list_all(storage, filters=[Filter("id", "a", COMPARISON.EQ)])) == {"a"}

    def test_filter_on_numeric_id(self, storage):
        create(storage, {"id": "0", "name": "zero"})
        create(storage, {"id": "42", "name": "answer"})
        assert names(list_all(storage, filters=[Filter("id", 42, COMPARISON.EQ)])) == {"answer"}
        assert names(list_all(storage, filters=[Filter("id", 0, COMPARISON.EQ)])) == {"zero"}

    def test_filter_in_on_id(self, storage):
        first = create(storage, {"name": "a"})
        second = create(storage, {"name": "b"})
        create(storage, {"name": "c"})
        filters = [Filter("id", [first["id"], second["id"]], COMPARISON.IN)]
        assert names(list_all(storage, filters=filters)) == {"a", "b"}
        assert list_all(storage, filters=[Filter("id", [], COMPARISON.IN)]) == []

    def test_filter_in_and_exclude_on_last_modified(self, storage):
        first = create(storage, {"name": "a"})
        second = create(storage, {"name": "b"})
        create(storage, {"name": "c"})
        stamps = [first["last_modified"], second["last_modified"]]
        found = list_all(storage, filters=[Filter("last_modified", stamps, COMPARISON.IN)])
        assert names(found) == {"a", "b"}
        found = list_all(
            storage, filters=[Filter("last_modified", tuple(stamps), COMPARISON.EXCLUDE)]
        )
        assert names(found) == {"c"}

    def test_filter_comparisons_on_last_modified(self, storage):
        first = create(storage, {"name": "a"})
        second = create(storage, {"name": "b"})
        third = create(storage, {"name": "c"})
        stamp = second["last_modified"]
        cases = {
            COMPARISON.EQ: {"b"},
            COMPARISON.NOT: {"a", "c"},
            COMPARISON.LT: {"a"},
            COMPARISON.MAX: {"a", "b"},
            COMPARISON.GT: {"c"},
            COMPARISON.MIN: {"b", "c"},
        }
        for operator, expected in cases.items():
            found = list_all(storage, filters=[Filter("last_modified", stamp, operator)])
            assert names(found) == expected, operator
        assert first["last_modified"] < stamp < third["last_modified"]

    def test_filter_in_with_strings_and_numbers(self, storage):
        for code in ["a", "b", "c", 1, 2, 3]:
            create(storage, {"name": str(code), "code": code})
        found = list_all(storage, filters=[Filter("code", ["a", "b", 2], COMPARISON.IN)])
        assert names(found) == {"a", "b", "2"}
        found = list_all(storage, filters=[Filter("code", (1, "b"), COMPARISON.EXCLUDE)])
        assert names(found) == {"a", "c", "2", "3"}

    def test_filter_exclude_in_subobjects(self, storage):
        for city in [1, 2, 3]:
            create(storage, {"name": str(city), "code": {"city": city}})
        found = list_all(storage, filters=[Filter("code.city", (1, 2), COMPARISON.EXCLUDE)])
        assert names(found) == {"3"}

    def test_filter_keys_containing_dots(self, storage):
        create(storage, {"name": "dotted", "a.b": 1})
        create(storage, {"name": "nested", "a": {"b": 1}})
        assert names(list_all(storage, filters=[Filter("a.b", 1, COMPARISON.HAS)])) == {
            "dotted",
            "nested",
        }

    @pytest.mark.parametrize(("pattern", "expected"), LIKE_CASES)
    def test_filter_like(self, storage, pattern, expected):
        for value in ["foo", "aafooll", "bar", "FOOBAR", "a.c", "abc", 123, None]:
            create(storage, {"name": str(value), "v": value})
        create(storage, {"name": "missing"})
        found = list_all(storage, filters=[Filter("v", pattern, COMPARISON.LIKE)])
        assert names(found) == expected

    def test_filter_like_on_subobject_and_unicode(self, storage):
        create(storage, {"name": "yes", "person": {"city": "Zürich"}})
        create(storage, {"name": "no", "person": {"city": "Bern"}})
        found = list_all(storage, filters=[Filter("person.city", "ÜR", COMPARISON.LIKE)])
        assert names(found) == {"yes"}

    @pytest.mark.parametrize(("operator", "value", "expected"), CONTAINS_CASES)
    def test_filter_contains(self, storage, operator, value, expected):
        create(storage, {"name": "abc", "tags": ["a", "b", "c"]})
        create(storage, {"name": "b", "tags": ["b"]})
        create(storage, {"name": "numbers", "tags": [1, 2]})
        create(storage, {"name": "objects", "tags": [{"x": 1}]})
        create(storage, {"name": "empty", "tags": []})
        create(storage, {"name": "string", "tags": "abc"})
        create(storage, {"name": "object", "tags": {"k": 1}})
        create(storage, {"name": "missing"})
        found = list_all(storage, filters=[Filter("tags", value, operator)])
        assert names(found) == expected

    def test_filter_has_on_id_and_last_modified(self, storage):
        create(storage, {"name": "a"})
        assert len(list_all(storage, filters=[Filter("id", True, COMPARISON.HAS)])) == 1
        found = list_all(storage, filters=[Filter("last_modified", False, COMPARISON.HAS)])
        assert found == []

    def test_filters_and_sorting_agree(self, storage):
        for obj in mixed_values():
            create(storage, obj)
        ordered = list_all(storage, sorting=[Sort("v", 1)])
        for value in ["A", "Z", "", 0, 4, None, True, [], {}, MISSING]:
            for low, high in [
                (COMPARISON.LT, COMPARISON.MIN),
                (COMPARISON.MAX, COMPARISON.GT),
            ]:
                below = list_all(
                    storage, filters=[Filter("v", value, low)], sorting=[Sort("v", 1)]
                )
                above = list_all(
                    storage, filters=[Filter("v", value, high)], sorting=[Sort("v", 1)]
                )
                assert below + above == ordered, (value, low)

    # Filters and tombstones

    def test_filter_on_last_modified_includes_tombstones(self, storage):
        create_and_delete(storage)
        start = timestamp(storage)
        create(storage)
        create_and_delete(storage)
        since = [Filter("last_modified", start, COMPARISON.GT)]
        assert len(list_all(storage, filters=since, include_deleted=True)) == 2
        assert count_all(storage, filters=since) == 1
        assert count_all(storage, filters=since, include_deleted=True) == 2

    def test_filter_on_id_includes_tombstones(self, storage):
        tombstone = create_and_delete(storage, {"id": "gone"})
        found = list_all(
            storage, filters=[Filter("id", "gone", COMPARISON.EQ)], include_deleted=True
        )
        assert found == [tombstone]

    def test_filter_on_other_fields_skips_tombstones(self, storage):
        create(storage, {"status": 0})
        create_and_delete(storage, {"status": 0})
        filters = [Filter("status", 0, COMPARISON.EQ)]
        assert len(list_all(storage, filters=filters, include_deleted=True)) == 1
        filters = [Filter("status", 0, COMPARISON.MAX)]
        assert len(list_all(storage, filters=filters, include_deleted=True)) == 1

    def test_filter_on_deleted_field(self, storage):
        create(storage)
        tombstone = create_and_delete(storage)
        found = list_all(
            storage, filters=[Filter("deleted", True, COMPARISON.EQ)], include_deleted=True
        )
        assert found == [tombstone]
        found = list_all(
            storage, filters=[Filter("deleted", True, COMPARISON.NOT)], include_deleted=True
        )
        assert len(found) == 1
        assert "deleted" not in found[0]
        found = list_all(
            storage, filters=[Filter("deleted", False, COMPARISON.EQ)], include_deleted=True
        )
        assert found == []

    def test_filter_on_deleted_without_tombstones_is_empty(self, storage):
        create(storage)
        create_and_delete(storage)
        assert list_all(storage, filters=[Filter("deleted", True, COMPARISON.EQ)]) == []
        assert count_all(storage, filters=[Filter("deleted", True, COMPARISON.EQ)]) == 0

    # Sorting

    def test_sort_ascending_and_descending_numbers(self, storage):
        for n in [1, 10, 6, 46]:
            create(storage, {"n": n})
        assert [o["n"] for o in list_all(storage, sorting=[Sort("n", 1)])] == [1, 6, 10, 46]
        assert [o["n"] for o in list_all(storage, sorting=[Sort("n", -1)])] == [46, 10, 6, 1]

    def test_sort_on_id(self, storage):
        for object_id in ["b", "c", "a"]:
            create(storage, {"id": object_id})
        assert [o["id"] for o in list_all(storage, sorting=[Sort("id", 1)])] == ["a", "b", "c"]

    def test_sort_on_last_modified(self, storage):
        created = [create(storage) for _ in range(5)]
        listed = list_all(storage, sorting=[Sort("last_modified", -1)])
        assert listed == list(reversed(created))

    def test_sort_on_subobject(self, storage):
        for age in [3, 1, 2]:
            create(storage, {"person": {"age": age}})
        listed = list_all(storage, sorting=[Sort("person.age", 1)])
        assert [o["person"]["age"] for o in listed] == [1, 2, 3]

    def test_sort_on_several_fields(self, storage):
        for a, b in [(1, "x"), (2, "y"), (1, "z"), (2, "x"), (1, "y")]:
            create(storage, {"a": a, "b": b})
        listed = list_all(storage, sorting=[Sort("a", 1), Sort("b", -1)])
        assert [(o["a"], o["b"]) for o in listed] == [
            (1, "z"),
            (1, "y"),
            (1, "x"),
            (2, "y"),
            (2, "x"),
        ]

    def test_sort_ties_broken_by_last_modified(self, storage):
        created = [create(storage, {"same": 1}) for _ in range(4)]
        listed = list_all(storage, sorting=[Sort("same", 1), Sort("last_modified", -1)])
        assert listed == list(reversed(created))

    def test_sort_missing_fields_last_ascending(self, storage):
        create(storage, {"name": "none"})
        create(storage, {"name": "two", "v": 2})
        create(storage, {"name": "one", "v": 1})
        listed = list_all(storage, sorting=[Sort("v", 1)])
        assert [o["name"] for o in listed] == ["one", "two", "none"]

    def test_sort_missing_fields_first_descending(self, storage):
        create(storage, {"name": "one", "v": 1})
        create(storage, {"name": "none"})
        create(storage, {"name": "two", "v": 2})
        listed = list_all(storage, sorting=[Sort("v", -1)])
        assert [o["name"] for o in listed] == ["none", "two", "one"]

    def test_sort_mixed_types_ascending(self, storage):
        for obj in reversed(mixed_values()):
            create(storage, obj)
        listed = list_all(storage, sorting=[Sort("v", 1)])
        assert [o["name"] for o in listed] == MIXED_ORDER

    def test_sort_mixed_types_descending(self, storage):
        for obj in mixed_values():
            create(storage, obj)
        listed = list_all(storage, sorting=[Sort("v", -1)])
        assert [o["name"] for o in listed] == list(reversed(MIXED_ORDER))

    def test_sort_arrays_by_length_then_elements(self, storage):
        for value in [[1, 3], [2], [1, 2, 0], [1, 2]]:
            create(storage, {"v": value})
        listed = list_all(storage, sorting=[Sort("v", 1)])
        assert [o["v"] for o in listed] == [[2], [1, 2], [1, 3], [1, 2, 0]]

    def test_sort_objects_by_size_then_pairs_in_jsonb_order(self, storage):
        """Keys are taken shorter first (``jsonb``'s storage order), but compared
        as strings: ``{"aa": 1} < {"b": 1}``, ``{"b": 1, "d": 1} < {"c": 1, "aa": 1}``."""
        values = [{"c": 1, "aa": 1}, {"b": 1}, {"b": 2}, {"aa": 1}, {"b": 1, "d": 1}, {}]
        for value in values:
            create(storage, {"v": value})
        listed = list_all(storage, sorting=[Sort("v", 1)])
        assert [o["v"] for o in listed] == [
            {},
            {"aa": 1},
            {"b": 1},
            {"b": 2},
            {"b": 1, "d": 1},
            {"c": 1, "aa": 1},
        ]

    def test_only_a_top_level_empty_array_sorts_first(self, storage):
        for value in [[[]], [None], None, [], "a"]:
            create(storage, {"v": value})
        listed = list_all(storage, sorting=[Sort("v", 1)])
        assert [o["v"] for o in listed] == [[], None, "a", [None], [[]]]
        found = list_all(storage, filters=[Filter("v", [[]], COMPARISON.GT)])
        assert found == []

    def test_sort_tombstones_by_last_modified(self, storage):
        first = create_and_delete(storage)
        live = create(storage)
        last = create_and_delete(storage)
        listed = list_all(storage, sorting=[Sort("last_modified", 1)], include_deleted=True)
        assert listed == [first, live, last]

    def test_sort_on_other_field_puts_tombstones_last(self, storage):
        create(storage, {"status": 0})
        create_and_delete(storage, {"status": 1})
        create_and_delete(storage, {"status": 2})
        listed = list_all(storage, sorting=[Sort("status", 1)], include_deleted=True)
        assert [o.get("deleted", False) for o in listed] == [False, True, True]

    def test_sort_on_deleted_puts_tombstones_first(self, storage):
        create_and_delete(storage)
        create(storage)
        create_and_delete(storage)
        listed = list_all(storage, sorting=[Sort("deleted", 1)], include_deleted=True)
        assert [o.get("deleted", False) for o in listed] == [True, True, False]

    # Pagination

    def test_pagination_rule(self, storage):
        for n in range(10):
            create(storage, {"n": n % 3})
        rules = [[Filter("n", 1, COMPARISON.GT)]]
        assert len(list_all(storage, pagination_rules=rules, limit=5)) == 3

    def test_pagination_rules_are_ored(self, storage):
        for n in range(10):
            last = create(storage, {"n": n % 3})
        rules = [[Filter("n", 1, COMPARISON.GT)], [Filter("id", last["id"], COMPARISON.EQ)]]
        assert len(list_all(storage, pagination_rules=rules, limit=5)) == 4

    def test_pagination_rule_filters_are_anded(self, storage):
        for a in range(3):
            for b in range(3):
                create(storage, {"a": a, "b": b})
        rules = [[Filter("a", 1, COMPARISON.EQ), Filter("b", 0, COMPARISON.GT)]]
        listed = list_all(storage, pagination_rules=rules)
        assert sorted((o["a"], o["b"]) for o in listed) == [(1, 1), (1, 2)]

    def test_pagination_rules_combine_with_filters(self, storage):
        for n in range(6):
            create(storage, {"n": n, "even": n % 2 == 0})
        listed = list_all(
            storage,
            filters=[Filter("even", True, COMPARISON.EQ)],
            pagination_rules=[[Filter("n", 1, COMPARISON.GT)]],
        )
        assert sorted(o["n"] for o in listed) == [2, 4]

    def test_pagination_can_skip_everything(self, storage):
        for n in range(5):
            create(storage, {"n": n})
        rules = [[Filter("n", 7, COMPARISON.GT)]]
        assert list_all(storage, pagination_rules=rules, include_deleted=True) == []

    def test_empty_pagination_rules_skip_nothing(self, storage):
        for n in range(3):
            create(storage, {"n": n})
        assert len(list_all(storage, pagination_rules=[])) == 3

    def test_pagination_on_last_modified_includes_tombstones(self, storage):
        start = timestamp(storage)
        for n in range(10):
            if n % 2:
                create(storage)
            else:
                create_and_delete(storage)
        listed = list_all(
            storage,
            sorting=[Sort("last_modified", 1)],
            pagination_rules=[[Filter("last_modified", start, COMPARISON.GT)]],
            limit=5,
            include_deleted=True,
        )
        assert [o.get("deleted", False) for o in listed] == [True, False, True, False, True]

    def test_pagination_rules_are_confined_by_parent(self, storage):
        for n in range(4):
            middle = create(storage, {"n": n}, parent_id="/a")
        for n in range(4):
            create(storage, {"n": n}, parent_id="/b")
        rules = [
            [Filter("n", 1, COMPARISON.GT)],
            [Filter("last_modified", middle["last_modified"], COMPARISON.GT)],
        ]
        assert len(list_all(storage, parent_id="/a", pagination_rules=rules)) == 2

    @pytest.mark.parametrize("direction", [1, -1])
    def test_keyset_pagination_walks_every_object_once(self, storage, direction):
        # Groups have independent timestamps, which may collide across parents:
        # distinct ones keep the ``last_modified`` tiebreak unambiguous.
        for parent in range(6):
            obj = {"id": "same", "n": parent % 3, "last_modified": 1_000 + parent}
            create(storage, obj, parent_id=f"abc{parent}")
        sorting = [Sort("n", direction), Sort("last_modified", -1)]
        expected = list_all(storage, parent_id="abc*", sorting=sorting)
        for limit in range(1, 7):
            walked, rules = [], None
            while page := list_all(
                storage, parent_id="abc*", sorting=sorting, limit=limit, pagination_rules=rules
            ):
                walked.extend(page)
                rules = keyset_rules(sorting, page[-1])
            assert walked == expected, limit

    @pytest.mark.parametrize("direction", [1, -1])
    def test_keyset_pagination_over_missing_fields(self, storage, direction):
        for n in range(9):
            create(storage, {"rank": n % 3} if n % 2 else {})
        sorting = [Sort("rank", direction), Sort("last_modified", -1)]
        expected = list_all(storage, sorting=sorting)
        walked, rules = [], None
        while page := list_all(storage, sorting=sorting, limit=2, pagination_rules=rules):
            walked.extend(page)
            rules = keyset_rules(sorting, page[-1])
        assert walked == expected
        assert len(walked) == 9

    # Timestamp order: default lists, ``_since`` polls, pages of tokens

    @pytest.mark.parametrize("direction", [1, -1])
    @pytest.mark.parametrize("include_deleted", [True, False])
    def test_range_of_timestamps_in_order_up_to_the_limit(
        self, storage, direction, include_deleted
    ):
        written = [
            create_and_delete(storage, {"n": n}) if n % 3 == 0 else create(storage, {"n": n})
            for n in range(12)
        ]
        low, high = written[2]["last_modified"], written[9]["last_modified"]
        in_range = [
            obj
            for obj in written
            if low < obj["last_modified"] <= high and (include_deleted or "deleted" not in obj)
        ]
        expected = in_range if direction > 0 else in_range[::-1]
        filters = [
            Filter("last_modified", low, COMPARISON.GT),
            Filter("last_modified", high, COMPARISON.MAX),
        ]
        for limit in (1, 4, 20):
            listed = list_all(
                storage,
                filters=filters,
                sorting=[Sort("last_modified", direction)],
                limit=limit,
                include_deleted=include_deleted,
            )
            assert listed == expected[:limit], limit

    def test_filtered_pages_in_timestamp_order(self, storage):
        created = [create(storage, {"status": "todo" if n % 3 else "done"}) for n in range(10)]
        newest_todo = [obj for obj in reversed(created) if obj["status"] == "todo"]
        sorting = [Sort("last_modified", -1)]
        todo = [Filter("status", "todo", COMPARISON.EQ)]
        page = list_all(storage, filters=todo, sorting=sorting, limit=4)
        assert page == newest_todo[:4]
        rules = keyset_rules(sorting, page[-1])
        assert (
            list_all(storage, filters=todo, sorting=sorting, pagination_rules=rules)
            == (newest_todo[4:])
        )

    def test_timestamp_order_with_given_timestamps(self, storage):
        first = create(storage)
        future = create(storage, {"last_modified": first["last_modified"] + 10_000})
        after = create(storage)
        past = first["last_modified"] - 5
        replaced = storage.update(RESOURCE, PARENT, first["id"], {"last_modified": past})
        tombstone = storage.delete(
            RESOURCE, PARENT, future["id"], last_modified=timestamp(storage) + 10_000
        )
        listed = list_all(storage, sorting=[Sort("last_modified", -1)], include_deleted=True)
        assert listed == [tombstone, replaced, after]
        since = [Filter("last_modified", after["last_modified"], COMPARISON.GT)]
        listed = list_all(
            storage, filters=since, sorting=[Sort("last_modified", 1)], include_deleted=True
        )
        assert listed == [replaced, tombstone]

    def test_keyset_pages_on_timestamps_while_writing(self, storage):
        created = [create(storage, {"n": n}) for n in range(9)]
        sorting = [Sort("last_modified", -1)]
        # What the resource layer adds: the list as of its first page.
        up_to_start = [Filter("last_modified", timestamp(storage), COMPARISON.MAX)]
        walked: list[str] = []
        touched: list[str] = []
        rules = None
        while page := list_all(
            storage, filters=up_to_start, sorting=sorting, limit=2, pagination_rules=rules
        ):
            walked.extend(obj["id"] for obj in page)
            rules = keyset_rules(sorting, page[-1])
            # Writes between pages get newer timestamps: the walk leaves them to
            # the next ``_since`` poll rather than serving anything twice.
            unseen = [obj["id"] for obj in created if obj["id"] not in walked + touched]
            if unseen:
                if len(touched) % 2:
                    storage.delete(RESOURCE, PARENT, unseen[0])
                else:
                    storage.update(RESOURCE, PARENT, unseen[0], {"n": -1})
                touched.append(unseen[0])
            create(storage, {"n": 100})
        assert walked == [obj["id"] for obj in reversed(created) if obj["id"] not in touched]

    def test_long_list_paged_both_ways_after_deletions(self, storage):
        # Enough objects for an index to split them in parts (the memory
        # backend's chunks), then whole stretches deleted, some deletions undone.
        created = [create(storage, {"n": n}) for n in range(300)]
        gone = {obj["id"] for obj in created[60:200] if obj["n"] % 7}
        gone |= {obj["id"] for obj in created[250:]}
        for object_id in gone:
            storage.delete(RESOURCE, PARENT, object_id, with_deleted=False)
        with pytest.raises(Boom), transaction.atomic():
            for obj in created[:250:3]:
                if obj["id"] not in gone:
                    storage.delete(RESOURCE, PARENT, obj["id"], with_deleted=False)
            raise Boom
        kept = [obj for obj in created if obj["id"] not in gone]
        for direction in (1, -1):
            sorting = [Sort("last_modified", direction)]
            walked, rules = [], None
            while page := list_all(storage, sorting=sorting, limit=37, pagination_rules=rules):
                walked.extend(page)
                rules = keyset_rules(sorting, page[-1])
            assert walked == (kept if direction > 0 else kept[::-1])

    def test_filter_on_ids_with_sorting_limit_and_tombstones(self, storage):
        for n in range(6):
            create(storage, {"id": f"o{n}", "rank": n % 2})
        tombstone = storage.delete(RESOURCE, PARENT, "o4")
        filters = [Filter("id", ["o5", "o4", "o2", "o1", "unknown", "o2"], COMPARISON.IN)]
        sorting = [Sort("rank", 1), Sort("last_modified", -1)]
        page = list_all(storage, filters=filters, sorting=sorting, include_deleted=True, limit=3)
        assert [obj["id"] for obj in page] == ["o2", "o5", "o1"]
        rules = keyset_rules(sorting, page[-1])
        rest = list_all(
            storage, filters=filters, sorting=sorting, pagination_rules=rules, include_deleted=True
        )
        assert rest == [tombstone]
        assert count_all(storage, filters=filters) == 3
        assert count_all(storage, filters=filters, include_deleted=True) == 4

    # Count

    def test_count_all_counts_live_objects(self, storage):
        for _ in range(4):
            create(storage)
        create_and_delete(storage)
        assert count_all(storage) == 4

    def test_count_all_with_filters(self, storage):
        for n in range(6):
            create(storage, {"n": n})
        assert count_all(storage, filters=[Filter("n", 3, COMPARISON.MIN)]) == 3

    def test_count_all_can_include_tombstones(self, storage):
        create(storage)
        create_and_delete(storage)
        assert count_all(storage, include_deleted=True) == 2

    def test_count_all_with_parent_pattern(self, storage):
        create(storage, parent_id="/a/1")
        create(storage, parent_id="/a/2")
        create(storage, parent_id="/b/1")
        assert count_all(storage, parent_id="/a/*") == 2

    def test_count_all_unknown_group_is_zero(self, storage):
        assert count_all(storage, parent_id="/nothing") == 0

    # Count by resource (``/__counters__``)

    def test_count_by_resource_adds_up_every_parent(self, storage):
        create(storage, parent_id="/a/1")
        create(storage, parent_id="/a/2")
        create_and_delete(storage, parent_id="/b")
        create(storage, resource_name="bucket", parent_id="")
        create_and_delete(storage, resource_name="bucket", parent_id="")
        create_and_delete(storage, resource_name="bucket", parent_id="")
        counts = storage.count_by_resource([RESOURCE, "bucket"])
        assert counts == {RESOURCE: ResourceCount(2, 1), "bucket": ResourceCount(1, 2)}

    def test_count_by_resource_names_only_what_was_asked(self, storage):
        create(storage, resource_name="other")
        assert storage.count_by_resource([RESOURCE]) == {RESOURCE: ResourceCount(0, 0)}

    def test_count_by_resource_counts_a_recreated_object_once(self, storage):
        create_and_delete(storage, {"id": "phoenix"})
        create(storage, {"id": "phoenix"})
        assert storage.count_by_resource([RESOURCE]) == {RESOURCE: ResourceCount(1, 0)}

    def test_count_by_resource_forgets_purged_tombstones(self, storage):
        create_and_delete(storage)
        storage.purge_deleted(RESOURCE, PARENT)
        assert storage.count_by_resource([RESOURCE]) == {RESOURCE: ResourceCount(0, 0)}

    # Delete all

    def test_delete_all_deletes_and_returns_tombstones(self, storage):
        created = [create(storage, {"secret": n}) for n in range(3)]
        tombstones = storage.delete_all(RESOURCE, PARENT)
        assert sorted(t["id"] for t in tombstones) == sorted(o["id"] for o in created)
        assert all(set(t) == {"id", "last_modified", "deleted"} for t in tombstones)
        assert all(t["deleted"] is True for t in tombstones)
        assert count_all(storage) == 0

    def test_delete_all_keeps_tombstones(self, storage):
        create(storage)
        create(storage)
        tombstones = storage.delete_all(RESOURCE, PARENT, sorting=[Sort("last_modified", 1)])
        listed = list_all(storage, include_deleted=True, sorting=[Sort("last_modified", 1)])
        assert listed == tombstones

    def test_delete_all_gives_new_unique_timestamps(self, storage):
        before = {create(storage)["last_modified"] for _ in range(5)}
        current = timestamp(storage)
        tombstones = storage.delete_all(RESOURCE, PARENT)
        after = {t["last_modified"] for t in tombstones}
        assert len(after) == 5
        assert min(after) > current
        assert after.isdisjoint(before)
        assert timestamp(storage) == max(after)

    def test_delete_all_without_tombstones(self, storage):
        old = create_and_delete(storage)
        create(storage)
        deleted = storage.delete_all(RESOURCE, PARENT, with_deleted=False)
        assert len(deleted) == 1
        assert list_all(storage, include_deleted=True) == [old]

    def test_delete_all_with_filters(self, storage):
        create(storage, {"foo": "po"})
        kept = create(storage, {"foo": "bar"})
        storage.delete_all(RESOURCE, PARENT, filters=[Filter("foo", "po", COMPARISON.EQ)])
        assert list_all(storage) == [kept]

    def test_delete_all_with_limit(self, storage):
        for _ in range(3):
            create(storage)
        assert len(storage.delete_all(RESOURCE, PARENT, limit=2)) == 2
        assert count_all(storage) == 1
        assert count_all(storage, include_deleted=True) == 3

    def test_delete_all_with_sorting_and_limit(self, storage):
        for n in range(5):
            create(storage, {"n": n})
        storage.delete_all(RESOURCE, PARENT, sorting=[Sort("n", -1)], limit=2)
        assert sorted(o["n"] for o in list_all(storage)) == [0, 1, 2]

    def test_delete_all_with_pagination_rules(self, storage):
        for n in range(6):
            create(storage, {"n": n})
        rules = [[Filter("n", 3, COMPARISON.GT)]]
        deleted = storage.delete_all(RESOURCE, PARENT, pagination_rules=rules, limit=4)
        assert len(deleted) == 2
        assert sorted(o["n"] for o in list_all(storage)) == [0, 1, 2, 3]

    def test_delete_all_in_empty_group(self, storage):
        assert storage.delete_all(RESOURCE, PARENT) == []

    def test_delete_all_is_confined_to_resource(self, storage):
        create(storage)
        create(storage, resource_name="other")
        storage.delete_all(RESOURCE, PARENT)
        assert count_all(storage, resource_name="other") == 1

    def test_delete_all_every_resource_under_parent_pattern(self, storage):
        create(storage, resource_name="collection", parent_id="/buckets/b")
        create(storage, resource_name="group", parent_id="/buckets/b")
        create(storage, resource_name="record", parent_id="/buckets/b/collections/c")
        create(storage, resource_name="record", parent_id="/buckets/bb/collections/c")
        deleted = storage.delete_all(None, "/buckets/b/*", with_deleted=False)
        assert len(deleted) == 1
        deleted = storage.delete_all(None, "/buckets/b", with_deleted=False)
        assert len(deleted) == 2
        assert count_all(storage, resource_name="record", parent_id="*") == 1
        assert count_all(storage, resource_name="collection", parent_id="*") == 0

    def test_delete_all_pattern_is_anchored(self, storage):
        create(storage, parent_id="abc", resource_name="c")
        create(storage, parent_id="xabcx", resource_name="c")
        create(storage, parent_id="def", resource_name="g", obj={"id": "id1"})
        storage.delete_all(None, "ab*", with_deleted=False)
        assert count_all(storage, resource_name="c", parent_id="xabcx") == 1
        assert count_all(storage, resource_name="g", parent_id="def") == 1
        assert list_all(storage, resource_name="c", parent_id="abc", include_deleted=True) == []

    def test_delete_all_by_pattern_keeps_tombstones_where_asked(self, storage):
        create(storage, parent_id="abc", resource_name="c")
        create(storage, parent_id="abc", resource_name="c")
        create(storage, parent_id="efg", resource_name="c")
        storage.delete_all(None, "ab*", with_deleted=True)
        listed = list_all(storage, resource_name="c", parent_id="abc", include_deleted=True)
        assert [o["deleted"] for o in listed] == [True, True]
        assert count_all(storage, resource_name="c", parent_id="efg") == 1

    # Purge deleted

    def test_purge_deleted_removes_tombstones(self, storage):
        create(storage)
        create(storage)
        storage.delete_all(RESOURCE, PARENT)
        assert storage.purge_deleted(RESOURCE, PARENT) == 2
        assert list_all(storage, include_deleted=True) == []

    def test_purge_deleted_leaves_live_objects(self, storage):
        live = create(storage)
        create_and_delete(storage)
        assert storage.purge_deleted(RESOURCE, PARENT) == 1
        assert list_all(storage, include_deleted=True) == [live]

    def test_purge_deleted_without_tombstones(self, storage):
        assert storage.purge_deleted(RESOURCE, PARENT) == 0

    def test_purge_deleted_of_unknown_resource(self, storage):
        create_and_delete(storage)
        assert storage.purge_deleted("unknown", "*") == 0
        assert count_all(storage, include_deleted=True) == 1

    def test_purge_deleted_by_parent_pattern_and_every_resource(self, storage):
        create_and_delete(storage, parent_id="abc", resource_name="c")
        create_and_delete(storage, parent_id="abc", resource_name="d")
        create_and_delete(storage, parent_id="efg", resource_name="c")
        assert storage.purge_deleted(None, "ab*") == 2
        assert count_all(storage, resource_name="c", parent_id="efg", include_deleted=True) == 1

    def test_purge_deleted_before_is_exclusive(self, storage):
        older = create_and_delete(storage)
        newer = create_and_delete(storage)
        removed = storage.purge_deleted(RESOURCE, PARENT, before=newer["last_modified"])
        assert removed == 1
        assert list_all(storage, include_deleted=True) == [newer]
        assert older["last_modified"] < newer["last_modified"]

    def test_purge_deleted_before_leaves_live_objects(self, storage):
        live = create(storage)
        create_and_delete(storage)
        storage.purge_deleted(RESOURCE, PARENT, before=timestamp(storage) + 1)
        assert list_all(storage, include_deleted=True) == [live]

    def test_purge_deleted_before_and_max_retained_are_exclusive(self, storage):
        with pytest.raises(ValueError):
            storage.purge_deleted(RESOURCE, PARENT, before=42, max_retained=1)

    def test_purge_deleted_max_retained_per_group(self, storage):
        groups = [("one", "cid1", 5), ("one", "cid2", 4), ("other", "cid1", 5)]
        for resource_name, parent_id, count in groups:
            for _ in range(count):
                create_and_delete(storage, resource_name=resource_name, parent_id=parent_id)
        newest = list_all(
            storage,
            resource_name="one",
            parent_id="cid1",
            include_deleted=True,
            sorting=[Sort("last_modified", -1)],
        )[:3]
        assert storage.purge_deleted("one", "*", max_retained=3) == 3
        kept = list_all(
            storage,
            resource_name="one",
            parent_id="cid1",
            include_deleted=True,
            sorting=[Sort("last_modified", -1)],
        )
        assert kept == newest
        assert count_all(storage, resource_name="one", parent_id="cid2", include_deleted=True) == 3
        assert (
            count_all(storage, resource_name="other", parent_id="cid1", include_deleted=True) == 5
        )

    def test_purge_deleted_max_retained_leaves_live_objects(self, storage):
        for _ in range(3):
            create(storage)
        create_and_delete(storage)
        assert storage.purge_deleted(RESOURCE, PARENT, max_retained=0) == 1
        assert count_all(storage, include_deleted=True) == 3

    def test_purge_deleted_of_every_resource_forgets_timestamps(self, storage):
        create(storage, parent_id="/abc/a", resource_name="c")
        create(storage, parent_id="/efg", resource_name="c")
        before_abc = storage.resource_timestamp("c", "/abc/a")
        before_efg = storage.resource_timestamp("c", "/efg")
        before_ijk = storage.resource_timestamp("c", "/ijk")
        storage.delete_all(None, "/abc/*", with_deleted=False)
        storage.purge_deleted(None, "/abc/*")
        assert set(storage.all_resources_timestamps("c")) == {"/efg", "/ijk"}
        time.sleep(0.003)
        assert storage.resource_timestamp("c", "/abc/a") != before_abc
        assert storage.resource_timestamp("c", "/efg") == before_efg
        assert storage.resource_timestamp("c", "/ijk") == before_ijk

    # Purge all

    def test_purge_all_removes_objects_and_tombstones_of_every_resource(self, storage):
        collection = "/buckets/b/collections/c"
        create(storage, resource_name="record", parent_id=collection)
        create_and_delete(storage, resource_name="record", parent_id=collection)
        create(storage, resource_name="attachment", parent_id=collection)
        assert storage.purge_all(collection) == 3
        for resource_name in ("record", "attachment"):
            kept = count_all(
                storage, resource_name=resource_name, parent_id=collection, include_deleted=True
            )
            assert kept == 0

    def test_purge_all_by_parent_pattern_is_anchored(self, storage):
        create(storage, resource_name="collection", parent_id="/buckets/b")
        create(storage, resource_name="record", parent_id="/buckets/b/collections/c")
        create_and_delete(storage, resource_name="record", parent_id="/buckets/b/collections/d")
        kept = ["/buckets/bb/collections/c", "/x/buckets/b/collections/c"]
        for parent_id in kept:
            create(storage, resource_name="record", parent_id=parent_id)
        assert storage.purge_all("/buckets/b/*") == 2
        assert count_all(storage, resource_name="collection", parent_id="/buckets/b") == 1
        for parent_id in ("/buckets/b/collections/c", "/buckets/b/collections/d"):
            gone = count_all(
                storage, resource_name="record", parent_id=parent_id, include_deleted=True
            )
            assert gone == 0
        for parent_id in kept:
            assert count_all(storage, resource_name="record", parent_id=parent_id) == 1

    def test_purge_all_of_nothing(self, storage):
        create(storage)
        assert storage.purge_all("/nothing/*") == 0
        assert count_all(storage) == 1

    def test_purge_all_forgets_the_timestamps(self, storage):
        create(storage, parent_id="/abc/a", resource_name="c")
        create(storage, parent_id="/efg", resource_name="c")
        before_abc = storage.resource_timestamp("c", "/abc/a")
        storage.resource_timestamp("c", "/abc/empty")
        storage.purge_all("/abc/*")
        assert set(storage.all_resources_timestamps("c")) == {"/efg"}
        time.sleep(0.003)
        assert storage.resource_timestamp("c", "/abc/a") > before_abc

    def test_purge_all_is_seen_by_the_rest_of_the_transaction(self, storage):
        created = create(storage, parent_id="/p/a")
        key = (RESOURCE, "/p/a", created["id"])
        with transaction.atomic():
            assert storage.get_by_keys([key]) == {key: created}
            storage.purge_all("/p/*")
            assert storage.get_by_keys([key]) == {}
            again = create(storage, {"id": created["id"]}, parent_id="/p/a")
            assert storage.get_by_keys([key]) == {key: again}

    # Trim

    def test_trim_objects_keeps_the_newest(self, storage):
        for n in range(20):
            create(storage, {"n": n, "group": "a" if n % 2 == 0 else "b"})
        removed = storage.trim_objects(
            RESOURCE, PARENT, filters=[Filter("group", "a", COMPARISON.EQ)], max_objects=3
        )
        assert removed == 7
        remaining = list_all(storage, filters=[Filter("group", "a", COMPARISON.EQ)])
        assert sorted(o["n"] for o in remaining) == [14, 16, 18]
        assert count_all(storage) == 13

    def test_trim_objects_leaves_no_tombstones(self, storage):
        for _ in range(5):
            create(storage)
        assert storage.trim_objects(RESOURCE, PARENT, filters=[], max_objects=2) == 3
        assert count_all(storage, include_deleted=True) == 2

    def test_trim_objects_under_the_maximum(self, storage):
        for _ in range(3):
            create(storage)
        assert storage.trim_objects(RESOURCE, PARENT, filters=[], max_objects=10) == 0
        assert count_all(storage) == 3

    def test_trim_objects_is_confined_to_the_group(self, storage):
        for _ in range(3):
            create(storage)
            create(storage, parent_id=OTHER_PARENT)
        storage.trim_objects(RESOURCE, PARENT, filters=[], max_objects=1)
        assert count_all(storage, parent_id=OTHER_PARENT) == 3

    # Copies

    def test_mutating_a_created_object_leaves_storage_intact(self, storage):
        created = create(storage, {"nested": {"list": [1]}})
        created["nested"]["list"].append(2)
        assert storage.get(RESOURCE, PARENT, created["id"])["nested"] == {"list": [1]}

    def test_mutating_the_input_after_create_leaves_storage_intact(self, storage):
        data = {"id": "x", "nested": {"list": [1]}}
        storage.create(RESOURCE, PARENT, data)
        data["nested"]["list"].append(2)
        assert storage.get(RESOURCE, PARENT, "x")["nested"] == {"list": [1]}

    def test_mutating_read_objects_leaves_storage_intact(self, storage):
        created = create(storage, {"nested": {"list": [1]}})
        storage.get(RESOURCE, PARENT, created["id"])["nested"]["list"].append(2)
        list_all(storage)[0]["nested"]["list"].append(3)
        storage.get_many(RESOURCE, PARENT, [created["id"]])[created["id"]]["nested"] = None
        assert storage.get(RESOURCE, PARENT, created["id"]) == created

    def test_mutating_returned_tombstones_leaves_storage_intact(self, storage):
        tombstone = create_and_delete(storage)
        tombstone["deleted"] = False
        storage.delete_all(RESOURCE, PARENT)
        listed = list_all(storage, include_deleted=True)
        assert listed[0]["deleted"] is True

    # Transactions

    def test_aborted_create_leaves_no_trace(self, storage):
        before = timestamp(storage)
        with pytest.raises(Boom), transaction.atomic():
            create(storage, {"id": "ghost"})
            raise Boom
        with pytest.raises(ObjectNotFoundError):
            storage.get(RESOURCE, PARENT, "ghost")
        assert list_all(storage, include_deleted=True) == []
        assert timestamp(storage) == before

    def test_aborted_write_in_new_group_leaves_no_timestamp(self, storage):
        with pytest.raises(Boom), transaction.atomic():
            create(storage, parent_id="/fresh")
            raise Boom
        assert storage.all_resources_timestamps(RESOURCE) == {}

    def test_aborted_update_restores_previous_version(self, storage):
        created = create(storage, {"v": 1})
        with pytest.raises(Boom), transaction.atomic():
            storage.update(RESOURCE, PARENT, created["id"], {"v": 2})
            storage.update(RESOURCE, PARENT, created["id"], {"v": 3})
            raise Boom
        assert storage.get(RESOURCE, PARENT, created["id"]) == created
        assert timestamp(storage) == created["last_modified"]

    def test_aborted_delete_restores_object(self, storage):
        created = create(storage)
        with pytest.raises(Boom), transaction.atomic():
            storage.delete(RESOURCE, PARENT, created["id"])
            raise Boom
        assert list_all(storage, include_deleted=True) == [created]
        assert timestamp(storage) == created["last_modified"]

    def test_aborted_recreation_restores_tombstone(self, storage):
        tombstone = create_and_delete(storage, {"id": "again"})
        with pytest.raises(Boom), transaction.atomic():
            create(storage, {"id": "again"})
            raise Boom
        assert list_all(storage, include_deleted=True) == [tombstone]

    def test_aborted_delete_all_restores_everything(self, storage):
        created = [create(storage, {"n": n}, parent_id=f"/p{n}") for n in range(3)]
        stamps = storage.all_resources_timestamps(RESOURCE)
        with pytest.raises(Boom), transaction.atomic():
            storage.delete_all(None, "/p*")
            raise Boom
        listed = list_all(storage, parent_id="/p*", include_deleted=True, sorting=[Sort("n", 1)])
        assert listed == created
        assert storage.all_resources_timestamps(RESOURCE) == stamps

    def test_aborted_purge_restores_tombstones_and_timestamps(self, storage):
        tombstone = create_and_delete(storage)
        stamps = storage.all_resources_timestamps(RESOURCE)
        with pytest.raises(Boom), transaction.atomic():
            storage.purge_deleted(None, "*")
            raise Boom
        assert list_all(storage, include_deleted=True) == [tombstone]
        assert storage.all_resources_timestamps(RESOURCE) == stamps

    def test_aborted_purge_all_restores_everything(self, storage):
        created = create(storage, {"n": 1}, parent_id="/p/a")
        tombstone = create_and_delete(storage, parent_id="/p/b")
        stamps = storage.all_resources_timestamps(RESOURCE)
        with pytest.raises(Boom), transaction.atomic():
            storage.purge_all("/p/*")
            create(storage, {"id": created["id"]}, parent_id="/p/a")
            raise Boom
        assert list_all(storage, parent_id="/p/a", include_deleted=True) == [created]
        assert list_all(storage, parent_id="/p/b", include_deleted=True) == [tombstone]
        assert storage.all_resources_timestamps(RESOURCE) == stamps

    def test_aborted_trim_restores_objects(self, storage):
        created = [create(storage) for _ in range(3)]
        with pytest.raises(Boom), transaction.atomic():
            storage.trim_objects(RESOURCE, PARENT, filters=[], max_objects=0)
            raise Boom
        assert list_all(storage, sorting=[Sort("last_modified", 1)]) == created

    def test_aborted_writes_restore_the_timestamp_order(self, storage):
        created = [create(storage, {"n": n}) for n in range(6)]
        storage.delete(RESOURCE, PARENT, created[1]["id"])
        from_third = [Filter("last_modified", created[3]["last_modified"], COMPARISON.MIN)]

        def lists() -> list[list[Object]]:
            both_ways = [
                list_all(storage, sorting=[Sort("last_modified", d)], include_deleted=True)
                for d in (1, -1)
            ]
            page = list_all(
                storage, filters=from_third, sorting=[Sort("last_modified", 1)], limit=2
            )
            return [*both_ways, page]

        before = lists()
        with pytest.raises(Boom), transaction.atomic():
            storage.update(RESOURCE, PARENT, created[2]["id"], {"n": 20})
            storage.delete(RESOURCE, PARENT, created[4]["id"])
            create(storage, {"id": created[1]["id"]})
            storage.update(RESOURCE, PARENT, created[2]["id"], {"n": 21})
            storage.purge_deleted(RESOURCE, PARENT)
            create(storage, {"n": 6})
            raise Boom
        assert lists() == before
        newest = create(storage, {"n": 7})
        assert list_all(storage, sorting=[Sort("last_modified", -1)], limit=1) == [newest]

    def test_aborted_timestamp_creation_is_forgotten(self, storage):
        with pytest.raises(Boom), transaction.atomic():
            timestamp(storage)
            raise Boom
        assert storage.all_resources_timestamps(RESOURCE) == {}

    def test_committed_transaction_keeps_writes(self, storage):
        with transaction.atomic():
            first = create(storage)
            second = create(storage)
            storage.delete(RESOURCE, PARENT, first["id"])
        assert list_all(storage) == [second]
        assert count_all(storage, include_deleted=True) == 2

    def test_transaction_sees_its_own_writes(self, storage):
        with pytest.raises(Boom), transaction.atomic():
            created = create(storage, {"v": 1})
            assert storage.get(RESOURCE, PARENT, created["id"]) == created
            assert count_all(storage) == 1
            assert timestamp(storage) == created["last_modified"]
            raise Boom
        assert count_all(storage) == 0

    def test_failed_create_inside_transaction_keeps_earlier_writes(self, storage):
        with transaction.atomic():
            create(storage, {"id": "one"})
            with pytest.raises(UnicityError):
                create(storage, {"id": "one"})
            create(storage, {"id": "two"})
        assert count_all(storage) == 2

    # Concurrency

    def test_concurrent_writers_get_unique_increasing_timestamps(self, storage):
        per_thread: list[list[int]] = [[] for _ in range(8)]
        errors: list[BaseException] = []

        def write(stamps: list[int]) -> None:
            try:
                for _ in range(25):
                    stamps.append(create(storage)["last_modified"])
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=write, args=(stamps,)) for stamps in per_thread]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        every = [stamp for stamps in per_thread for stamp in stamps]
        assert len(every) == 200
        assert len(set(every)) == 200
        assert all(stamps == sorted(stamps) for stamps in per_thread)
        assert timestamp(storage) == max(every)
        assert count_all(storage) == 200

    def test_concurrent_transactions_do_not_mix(self, storage):
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                for round_ in range(10):
                    with transaction.atomic():
                        parent = f"/worker{worker}"
                        obj = create(storage, {"id": f"o{round_}"}, parent_id=parent)
                        storage.update(RESOURCE, parent, obj["id"], {"done": True})
                    with pytest.raises(Boom), transaction.atomic():
                        create(storage, {"id": f"ghost{round_}"}, parent_id=parent)
                        raise Boom
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        listed = list_all(storage, parent_id="/worker*")
        assert len(listed) == 80
        assert all(obj["done"] for obj in listed)
        assert all(not obj["id"].startswith("ghost") for obj in listed)

    def test_concurrent_readers_and_writers(self, storage):
        errors: list[BaseException] = []
        marker = uuid.uuid4().hex

        def write() -> None:
            try:
                for n in range(50):
                    create(storage, {"n": n, "marker": marker})
            except BaseException as error:
                errors.append(error)

        def read() -> None:
            try:
                for _ in range(50):
                    listed = list_all(storage)
                    assert all(obj["marker"] == marker for obj in listed)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=write) for _ in range(2)]
        threads += [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert count_all(storage) == 100
