"""In-memory storage backend: development, tests and single-process demos.

Enable with ``kinto.storage_backend = kinto_clone.core.storage.memory``; the data
is lost when the process stops.

Objects, tombstones and group timestamps live in three dicts keyed by
``(resource_name, parent_id)``; the objects and the tombstones of a group form a
:class:`_Timeline` each, indexed by id and by timestamp, so that a page of a
list sorted on ``last_modified`` (the default), a ``_since`` poll or the next
page of a token costs what it returns, not the size of the group.

Unlike Kinto's memory backend, every write goes through the current
:class:`~kinto_clone.core.transaction.Transaction`: it is recorded in an
:class:`~kinto_clone.core.transaction.UndoJournal` (indexes included), so a
request that fails leaves no object, tombstone or timestamp behind.  The
journal holds the lock shared by all memory backends from the first write to
the commit; reads take the same (re-entrant) lock, so other threads never see
uncommitted data.  Objects are copied on the way in and on the way out, so
callers can mutate what they pass or get without touching the stored data (nor
the indexes, which trust that stored objects never change).

Queries are evaluated by :mod:`kinto_clone.core.storage.filtering`, which
emulates PostgreSQL's ``jsonb`` semantics.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import marshal
import threading
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice
from operator import itemgetter
from typing import Any, NamedTuple

from kinto_clone.core import transaction
from kinto_clone.core.storage import (
    COMPARISON,
    DEFAULT_DELETED_FIELD,
    DEFAULT_ID_FIELD,
    DEFAULT_MODIFIED_FIELD,
    Filter,
    Object,
    ObjectNotFoundError,
    ResourceCount,
    Sort,
    StorageBase,
    UnicityError,
    generators,
)
from kinto_clone.core.storage.filtering import (
    Bound,
    compile_filters,
    compile_rules,
    numeric_range,
    pattern_matcher,
    sort_objects,
)
from kinto_clone.core.transaction import UndoJournal

__all__ = ["MemoryStorage", "load_from_config"]

GroupKey = tuple[str, str]
Entry = tuple[GroupKey, Object]

DEFAULT_MAX_FETCH_SIZE = 10000


def msec_now() -> int:
    """Milliseconds since the epoch, the unit of every ``last_modified``."""
    return time.time_ns() // 1_000_000


class _SortedStamps:
    """Distinct timestamps in ascending order, kept in chunks.

    New writes add the greatest stamp; updates and deletes remove one anywhere.
    In one flat sorted list each removal would move half the group (quadratic
    when a whole collection is deleted): chunks of at most ``2 * CHUNK`` stamps
    bound that, and bisecting the chunks' maxima still finds a range in
    O(log n).
    """

    CHUNK = 64

    __slots__ = ("_chunks", "_maxima")

    def __init__(self) -> None:
        self._chunks: list[list[int]] = []
        self._maxima: list[int] = []

    def add(self, stamp: int) -> None:
        chunks, maxima = self._chunks, self._maxima
        if not chunks:
            chunks.append([stamp])
            maxima.append(stamp)
            return
        index = bisect_left(maxima, stamp)
        if index == len(maxima):  # The newest stamp: every write but a rollback.
            index -= 1
            chunks[index].append(stamp)
            maxima[index] = stamp
        else:
            insort(chunks[index], stamp)
        chunk = chunks[index]
        if len(chunk) > 2 * self.CHUNK:
            chunks[index : index + 1] = [chunk[: self.CHUNK], chunk[self.CHUNK :]]
            maxima.insert(index, chunk[self.CHUNK - 1])

    def remove(self, stamp: int) -> None:
        index = bisect_left(self._maxima, stamp)
        chunk = self._chunks[index]
        del chunk[bisect_left(chunk, stamp)]
        if chunk:
            self._maxima[index] = chunk[-1]
        else:
            del self._chunks[index], self._maxima[index]

    def between(self, low: Bound | None, high: Bound | None, descending: bool) -> Iterator[int]:
        """The stamps from ``low`` to ``high`` (``None``: unbounded), lazily."""
        first_chunk, first = (0, 0) if low is None else self._cut(low.value, not low.inclusive)
        end_chunk, end = (
            (len(self._chunks), 0) if high is None else self._cut(high.value, high.inclusive)
        )
        indexes = range(first_chunk, min(end_chunk, len(self._chunks) - 1) + 1)
        for index in reversed(indexes) if descending else indexes:
            chunk = self._chunks[index]
            part = chunk[
                first if index == first_chunk else 0 : end if index == end_chunk else len(chunk)
            ]
            yield from reversed(part) if descending else part

    def _cut(self, value: int | float, after_equal: bool) -> tuple[int, int]:
        """(chunk, index) of the first stamp above ``value``, or from it unless
        ``after_equal``; ``(len(chunks), 0)`` past the end."""
        find = bisect_right if after_equal else bisect_left
        index = find(self._maxima, value)
        if index == len(self._chunks):
            return index, 0
        return index, find(self._chunks[index], value)


class _Timeline:
    """The objects (or the tombstones) of one group, by id and by timestamp.

    The timestamp order answers lists sorted on the timestamp field, and ranges
    of it (``_since``, ``_before``, pagination tokens), without visiting the rest
    of the group.  It holds while every object has a distinct number in one
    field, which is always the case of objects written by this backend (each
    write takes a fresh group timestamp, rollbacks restore the previous ones).
    An object breaking it (a caller mixing field names) drops the order for
    good: queries then filter and sort ``by_id``, like for several groups.
    """

    __slots__ = ("_by_stamp", "_stamps", "by_id", "stamp_field")

    def __init__(self) -> None:
        self.by_id: dict[str, Object] = {}
        self.stamp_field: str | None = None
        self._stamps: _SortedStamps | None = _SortedStamps()
        self._by_stamp: dict[int, Object] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def ordered_by(self, field: str) -> bool:
        """True when :meth:`walk` gives the objects in the order of ``field``."""
        return self._stamps is not None and self.stamp_field in (None, field)

    def set(self, object_id: str, obj: Object | None, stamp_field: str) -> Object | None:
        """Store ``obj`` (timestamp in ``stamp_field``) or, with ``None``, remove
        the object; return the object it replaces.

        Undoing is setting that previous object back.
        """
        previous = self.by_id.get(object_id)
        if previous is not None and self._stamps is not None:
            stamp = previous[self.stamp_field]
            self._stamps.remove(stamp)
            del self._by_stamp[stamp]
        if obj is None:
            self.by_id.pop(object_id, None)
        else:
            self.by_id[object_id] = obj
            self._index(obj, stamp_field)
        return previous

    def walk(self, low: Bound | None, high: Bound | None, descending: bool) -> Iterator[Object]:
        """The objects stamped from ``low`` to ``high``, in timestamp order, lazily."""
        assert self._stamps is not None, "only for ordered timelines"
        return map(self._by_stamp.__getitem__, self._stamps.between(low, high, descending))

    def _index(self, obj: Object, stamp_field: str) -> None:
        if self._stamps is None:
            return
        stamp = obj.get(stamp_field)
        is_number = isinstance(stamp, int | float) and not isinstance(stamp, bool)
        if self.stamp_field not in (None, stamp_field) or not is_number or stamp in self._by_stamp:
            self._stamps, self._by_stamp = None, {}
            return
        self.stamp_field = stamp_field
        self._stamps.add(stamp)
        self._by_stamp[stamp] = obj


class _Query(NamedTuple):
    """What :meth:`MemoryStorage._select` looks for, in the arguments' terms."""

    filters: list[Filter]
    sorting: list[Sort]
    pagination_rules: list[list[Filter]]
    limit: int | None
    id_field: str
    modified_field: str


class MemoryStorage(StorageBase):
    """Storage kept in process memory; see the module docstring."""

    def __init__(
        self,
        max_fetch_size: int = DEFAULT_MAX_FETCH_SIZE,
        lock: threading.RLock | None = None,
        clock: Callable[[], int] = msec_now,
    ) -> None:
        self._max_fetch_size = max_fetch_size
        self._lock = threading.RLock() if lock is None else lock
        self._clock = clock
        self._objects: dict[GroupKey, _Timeline] = {}
        self._tombstones: dict[GroupKey, _Timeline] = {}
        self._timestamps: dict[GroupKey, int] = {}

    # Administration

    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        return []

    def healthcheck(self) -> bool:
        return True

    def flush(self) -> None:
        with self._writing() as journal:
            previous = (self._objects, self._tombstones, self._timestamps)
            self._replace_tables({}, {}, {})
            journal.on_abort(partial(self._replace_tables, *previous))

    # Timestamps

    def lock_for_write(self, resource_name: str, parent_id: str) -> None:
        # Joining takes the lock shared by every memory backend, held until commit.
        with self._writing():
            pass

    def resource_timestamp(self, resource_name: str, parent_id: str) -> int:
        key = (resource_name, parent_id)
        with self._lock:
            if "*" in parent_id:
                # Every group listed with this pattern: a wildcard list (accounts
                # of an admin) changes with any of them.
                matching = _matching_keys(self._timestamps, resource_name, parent_id)
                if matching:
                    return max(self._timestamps[group] for group in matching)
            existing = self._timestamps.get(key)
        if existing is not None:
            return existing
        # Creating the timestamp of an empty group is a write: a concurrent
        # request may have done it meanwhile, hence the second look.
        with self._writing() as journal:
            existing = self._timestamps.get(key)
            return existing if existing is not None else self._bump(journal, key)

    def all_resources_timestamps(self, resource_name: str) -> dict[str, int]:
        with self._lock:
            return {
                parent_id: timestamp
                for (name, parent_id), timestamp in self._timestamps.items()
                if name == resource_name
            }

    # Single objects

    def create(
        self,
        resource_name: str,
        parent_id: str,
        obj: Object,
        id_generator: generators.Generator | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> Object:
        new = _json_copy(obj)
        key = (resource_name, parent_id)
        with self._writing() as journal:
            if id_field in new:
                existing = self._live(key).get(new[id_field])
                if existing is not None:
                    raise UnicityError(id_field, _copy(existing))
            else:
                new[id_field] = (id_generator or self.id_generator)()
            new[modified_field] = self._bump(journal, key, new.get(modified_field))
            self._put_live(journal, key, new[id_field], new, modified_field)
            return _copy(new)

    def get(
        self,
        resource_name: str,
        parent_id: str,
        object_id: str,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> Object:
        with self._lock:
            found = self._live((resource_name, parent_id)).get(object_id)
            if found is None:
                raise ObjectNotFoundError(object_id)
            return _copy(found)

    def get_many(
        self,
        resource_name: str,
        parent_id: str,
        object_ids: list[str],
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> dict[str, Object]:
        with self._lock:
            group = self._live((resource_name, parent_id))
            return {oid: _copy(group[oid]) for oid in object_ids if oid in group}

    def update(
        self,
        resource_name: str,
        parent_id: str,
        object_id: str,
        obj: Object,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> Object:
        new = _json_copy(obj)
        new[id_field] = object_id
        key = (resource_name, parent_id)
        with self._writing() as journal:
            new[modified_field] = self._bump(journal, key, new.get(modified_field))
            self._put_live(journal, key, object_id, new, modified_field)
            return _copy(new)

    def delete(
        self,
        resource_name: str,
        parent_id: str,
        object_id: str,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        with_deleted: bool = True,
        last_modified: int | None = None,
    ) -> Object:
        key = (resource_name, parent_id)
        with self._writing() as journal:
            if object_id not in self._live(key):
                raise ObjectNotFoundError(object_id)
            fields = (id_field, modified_field, deleted_field)
            return self._delete(journal, key, object_id, fields, with_deleted, last_modified)

    # Sets of objects

    def list_all(
        self,
        resource_name: str,
        parent_id: str,
        filters: list[Filter] | None = None,
        sorting: list[Sort] | None = None,
        pagination_rules: list[list[Filter]] | None = None,
        limit: int | None = None,
        include_deleted: bool = False,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
    ) -> list[Object]:
        # One more than the fetch size, like Kinto's PostgreSQL backend: the
        # resource layer uses it to tell that another page exists.
        cap = min(limit, self._max_fetch_size + 1) if limit else self._max_fetch_size
        query = _Query(
            filters or [], sorting or [], pagination_rules or [], cap, id_field, modified_field
        )
        with self._lock:
            selected = self._select(resource_name, parent_id, include_deleted, query)
            return _copy([obj for _, obj in selected])

    def count_all(
        self,
        resource_name: str,
        parent_id: str,
        filters: list[Filter] | None = None,
        include_deleted: bool = False,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
    ) -> int:
        # Any order will do for counting: the timestamp one lets ranges of
        # ``last_modified`` and ids be found without testing every object.
        by_timestamp = [Sort(modified_field, -1)]
        query = _Query(filters or [], by_timestamp, [], None, id_field, modified_field)
        with self._lock:
            return len(self._select(resource_name, parent_id, include_deleted, query))

    def count_by_resource(self, resource_names: list[str]) -> dict[str, ResourceCount]:
        def total(table: dict[GroupKey, _Timeline], name: str) -> int:
            return sum(len(timeline) for (kind, _), timeline in table.items() if kind == name)

        with self._lock:
            return {
                name: ResourceCount(total(self._objects, name), total(self._tombstones, name))
                for name in resource_names
            }

    def delete_all(
        self,
        resource_name: str | None,
        parent_id: str,
        filters: list[Filter] | None = None,
        sorting: list[Sort] | None = None,
        pagination_rules: list[list[Filter]] | None = None,
        limit: int | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        with_deleted: bool = True,
    ) -> list[Object]:
        cap = min(limit, self._max_fetch_size) if limit else self._max_fetch_size
        fields = (id_field, modified_field, deleted_field)
        query = _Query(
            filters or [], sorting or [], pagination_rules or [], cap, id_field, modified_field
        )
        with self._writing() as journal:
            selected = self._select(resource_name, parent_id, False, query)
            return [
                self._delete(journal, key, obj[id_field], fields, with_deleted)
                for key, obj in selected
            ]

    def purge_deleted(
        self,
        resource_name: str | None,
        parent_id: str,
        before: int | None = None,
        max_retained: int | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> int:
        if before is not None and max_retained is not None:
            raise ValueError("`before` and `max_retained` are exclusive arguments")
        removed = 0
        with self._writing() as journal:
            for key in _matching_keys(self._tombstones, resource_name, parent_id):
                group = self._tombstones[key].by_id
                if before is not None:
                    doomed = [oid for oid, t in group.items() if t[modified_field] < before]
                elif max_retained is not None:
                    newest_first = sorted(
                        group.items(), key=lambda item: item[1][modified_field], reverse=True
                    )
                    doomed = [oid for oid, _ in newest_first[max_retained:]]
                else:
                    doomed = list(group)
                for object_id in doomed:
                    self._store(journal, self._tombstones, key, object_id, None, modified_field)
                removed += len(doomed)
            if resource_name is None and before is None:
                self._forget_empty_groups(journal, parent_id)
        return removed

    def purge_all(self, parent_id: str) -> int:
        removed = 0
        with self._writing() as journal:
            # Whole timelines are dropped (and put back on abort): the cost is
            # that of the groups, not of the objects in them.
            for table in (self._objects, self._tombstones):
                for key in _matching_keys(table, None, parent_id):
                    timeline = table.pop(key)
                    journal.on_abort(partial(_restore, table, key, timeline))
                    removed += len(timeline)
            self._forget_empty_groups(journal, parent_id)
        return removed

    def trim_objects(
        self,
        resource_name: str,
        parent_id: str,
        filters: list[Filter],
        max_objects: int,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> int:
        keep = compile_filters(filters, id_field)
        key = (resource_name, parent_id)
        with self._writing() as journal:
            group = self._live(key)
            matching = sorted(
                (item for item in group.items() if keep(item[1])),
                key=lambda item: item[1][modified_field],
                reverse=True,
            )
            doomed = [object_id for object_id, _ in matching[max_objects:]]
            for object_id in doomed:
                self._store(journal, self._objects, key, object_id, None, modified_field)
            return len(doomed)

    # Internals

    @contextlib.contextmanager
    def _writing(self) -> Iterator[UndoJournal]:
        """The journal of the current transaction (or of a new one for this call).

        Joining takes the shared lock, which stays held until the commit.
        """
        with transaction.atomic() as tx:
            yield tx.join(self._lock, partial(UndoJournal, self._lock))

    def _replace_tables(
        self,
        objects: dict[GroupKey, _Timeline],
        tombstones: dict[GroupKey, _Timeline],
        timestamps: dict[GroupKey, int],
    ) -> None:
        self._objects, self._tombstones, self._timestamps = objects, tombstones, timestamps

    def _bump(self, journal: UndoJournal, key: GroupKey, wanted: int | None = None) -> int:
        """Timestamp of a write in the group, advancing the group's timestamp.

        A ``wanted`` timestamp (client-supplied ``last_modified``, replication)
        is used only when it is beyond the group's current one.  Kinto also
        keeps older ones, which a client polling ``_since`` would never see:
        here they get a fresh timestamp like any write.  Otherwise the clock is
        used, or the previous timestamp + 1 when the clock has not moved past it.
        """
        previous = self._timestamps.get(key)
        if wanted is not None and (previous is None or wanted > previous):
            self._store_timestamp(journal, key, wanted)
            return wanted
        fresh = self._clock()
        if previous is not None and fresh <= previous:
            fresh = previous + 1
        self._store_timestamp(journal, key, fresh)
        return fresh

    def _store_timestamp(self, journal: UndoJournal, key: GroupKey, value: int | None) -> None:
        timestamps = self._timestamps
        previous = timestamps.get(key)
        if value is None:
            timestamps.pop(key, None)
        else:
            timestamps[key] = value
        journal.on_abort(partial(_restore, timestamps, key, previous))

    def _store(
        self,
        journal: UndoJournal,
        table: dict[GroupKey, _Timeline],
        key: GroupKey,
        object_id: str,
        value: Object | None,
        modified_field: str,
    ) -> None:
        """Set (or remove, with ``None``) one entry of ``table``, undoably."""
        group = table.get(key)
        if group is None:
            if value is None:
                return
            group = table[key] = _Timeline()
        previous = group.set(object_id, value, modified_field)
        journal.on_abort(partial(group.set, object_id, previous, modified_field))

    def _put_live(
        self, journal: UndoJournal, key: GroupKey, object_id: str, obj: Object, modified_field: str
    ) -> None:
        self._store(journal, self._objects, key, object_id, obj, modified_field)
        self._store(journal, self._tombstones, key, object_id, None, modified_field)

    def _live(self, key: GroupKey) -> dict[str, Object]:
        """The live objects of a group, by id (empty if it has none)."""
        group = self._objects.get(key)
        return group.by_id if group is not None else {}

    def _delete(
        self,
        journal: UndoJournal,
        key: GroupKey,
        object_id: str,
        fields: tuple[str, str, str],
        with_deleted: bool,
        last_modified: int | None = None,
    ) -> Object:
        id_field, modified_field, deleted_field = fields
        tombstone = {
            id_field: object_id,
            modified_field: self._bump(journal, key, last_modified),
            deleted_field: True,
        }
        self._store(journal, self._objects, key, object_id, None, modified_field)
        if with_deleted:
            self._store(journal, self._tombstones, key, object_id, tombstone, modified_field)
        return dict(tombstone)

    def _forget_empty_groups(self, journal: UndoJournal, parent_id: str) -> None:
        """Drop the timestamps of emptied groups, so a re-created bucket or
        collection starts afresh; groups still holding objects keep theirs
        (PostgreSQL derives it from them)."""
        for key in _matching_keys(self._timestamps, None, parent_id):
            if not self._objects.get(key) and not self._tombstones.get(key):
                self._store_timestamp(journal, key, None)

    def _select(
        self, resource_name: str | None, parent_id: str, include_deleted: bool, query: _Query
    ) -> list[Entry]:
        """The entries matching ``query``, sorted and cut at its limit."""
        tables = (self._objects, self._tombstones) if include_deleted else (self._objects,)
        if resource_name is not None and "*" not in parent_id:
            key = (resource_name, parent_id)
            timelines = [table[key] for table in tables if key in table]
            if all(timeline.ordered_by(query.modified_field) for timeline in timelines):
                found = _select_in_order(key, timelines, query)
                if found is not None:
                    return found
        entries = [
            (key, obj)
            for table in tables
            for key in _matching_keys(table, resource_name, parent_id)
            for obj in table[key].by_id.values()
        ]
        return _filter_and_sort(entries, query)


def _matching_keys(
    table: dict[GroupKey, Any], resource_name: str | None, parent_id: str
) -> list[GroupKey]:
    """Keys of ``table`` for that resource (any if ``None``) under ``parent_id``,
    which may be a ``*`` pattern."""
    if resource_name is not None and "*" not in parent_id:
        key = (resource_name, parent_id)
        return [key] if key in table else []
    parent_matches = pattern_matcher(parent_id)
    return [
        key
        for key in table
        if (resource_name is None or key[0] == resource_name) and parent_matches(key[1])
    ]


def _select_in_order(
    key: GroupKey, timelines: list[_Timeline], query: _Query
) -> list[Entry] | None:
    """The entries of one group matching ``query``, found through the timestamp
    order of its ``timelines``; ``None`` when that order does not help.

    Sorted on the timestamp alone (the default order of lists), the objects are
    walked in that order from the bounds the filters and the pagination token
    put on it, until the page is full: a page costs about its size however big
    the group.  With other sort fields, a page of ids (the objects shared with
    a user) is picked by id and then sorted; other queries need every object.
    """
    modified_field = query.modified_field
    if not any(sort.field == modified_field for sort in query.sorting):
        # Ties would keep the order of ``by_id``, which only the general path gives.
        return None
    ids = _pinned_ids(query.filters, query.id_field)
    if ids is not None:
        picked = [
            (key, timeline.by_id[object_id])
            for object_id in ids
            for timeline in timelines
            if object_id in timeline.by_id
        ]
        return _filter_and_sort(picked, query)
    if len(query.sorting) > 1 or len(query.pagination_rules) > 1:
        return None
    descending = query.sorting[0].direction < 0
    # The token's rule is "beyond the last timestamp served": one more bound.
    token_rule = query.pagination_rules[0] if query.pagination_rules else []
    low, high, others = numeric_range([*query.filters, *token_rule], modified_field)
    walks = [timeline.walk(low, high, descending) for timeline in timelines]
    ordered: Iterable[Object] = (
        walks[0]
        if len(walks) == 1
        else heapq.merge(*walks, key=itemgetter(modified_field), reverse=descending)
    )
    if others:
        ordered = filter(compile_filters(others, query.id_field), ordered)
    return [(key, obj) for obj in islice(ordered, query.limit)]


def _pinned_ids(filters: list[Filter], id_field: str) -> list[str] | None:
    """The ids a filter restricts the objects to (``id=x``, ``in_id=x,y``), if any.

    Possibly a few more (``id=true`` is looked up as ``"True"``): the filters
    are applied to the objects found anyway.
    """
    for field, value, operator in filters:
        if field != id_field:
            continue
        if operator is COMPARISON.EQ and isinstance(value, str | int):
            return [str(value)]
        if operator is COMPARISON.IN:
            return list(dict.fromkeys(item for item in value if isinstance(item, str)))
    return None


def _filter_and_sort(entries: list[Entry], query: _Query) -> list[Entry]:
    """``entries`` matching ``query``, sorted and cut at its limit, by testing
    and sorting them all."""
    selected = entries
    if query.filters:
        keep = compile_filters(query.filters, query.id_field)
        selected = [entry for entry in selected if keep(entry[1])]
    if query.pagination_rules:
        after = compile_rules(query.pagination_rules, query.id_field)
        selected = [entry for entry in selected if after(entry[1])]
    return sort_objects(selected, query.sorting, object_of=itemgetter(1))[: query.limit]


def _restore(mapping: dict, key: Any, previous: Any) -> None:
    if previous is None:
        mapping.pop(key, None)
    else:
        mapping[key] = previous


def _copy(value: Any) -> Any:
    """A deep copy of stored JSON values.

    A page of a hundred objects is copied on every list request: a
    :mod:`marshal` round trip, which handles exactly the JSON types (and
    stored values have no others), does it in C, several times faster than
    :func:`copy.deepcopy` and faster than :mod:`pickle`.
    """
    return marshal.loads(marshal.dumps(value))


def _json_copy(obj: Object) -> Object:
    """A deep copy made through JSON: non-JSON values (bytes...) raise
    ``TypeError`` here as they would in the SQL backends."""
    return json.loads(json.dumps(obj))


def load_from_config(config: Any) -> MemoryStorage:
    """Backend factory named by ``storage_backend``; ``config`` is the Configurator."""
    settings = config.get_settings()
    max_fetch_size = int(settings.get("storage_max_fetch_size", DEFAULT_MAX_FETCH_SIZE))
    return MemoryStorage(
        max_fetch_size=max_fetch_size, lock=transaction.shared_memory_lock(config.registry)
    )
