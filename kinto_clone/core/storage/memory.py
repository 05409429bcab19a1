"""In-memory storage backend: development, tests and single-process demos.

Enable with ``kinto.storage_backend = kinto_clone.core.storage.memory``; the data
is lost when the process stops.

Objects, tombstones and group timestamps live in three dicts keyed by
``(resource_name, parent_id)``.  Unlike Kinto's memory backend, every write goes
through the current :class:`~kinto_clone.core.transaction.Transaction`: it is
recorded in an :class:`~kinto_clone.core.transaction.UndoJournal`, so a request
that fails leaves no object, tombstone or timestamp behind.  The journal holds
the lock shared by all memory backends from the first write to the commit;
reads take the same (re-entrant) lock, so other threads never see uncommitted
data.  Objects are copied on the way in and on the way out, so callers can
mutate what they pass or get without touching the stored data.

Queries are evaluated by :mod:`kinto_clone.core.storage.filtering`, which
emulates PostgreSQL's ``jsonb`` semantics.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from operator import itemgetter
from typing import Any

from kinto_clone.core import transaction
from kinto_clone.core.storage import (
    DEFAULT_DELETED_FIELD,
    DEFAULT_ID_FIELD,
    DEFAULT_MODIFIED_FIELD,
    Filter,
    Object,
    ObjectNotFoundError,
    Sort,
    StorageBase,
    UnicityError,
    generators,
)
from kinto_clone.core.storage.filtering import (
    compile_filters,
    compile_rules,
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
        self._objects: dict[GroupKey, dict[str, Object]] = {}
        self._tombstones: dict[GroupKey, dict[str, Object]] = {}
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
                existing = self._objects.get(key, {}).get(new[id_field])
                if existing is not None:
                    raise UnicityError(id_field, copy.deepcopy(existing))
            else:
                new[id_field] = (id_generator or self.id_generator)()
            new[modified_field] = self._bump(journal, key, new.get(modified_field))
            self._put_live(journal, key, new[id_field], new)
            return copy.deepcopy(new)

    def get(
        self,
        resource_name: str,
        parent_id: str,
        object_id: str,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> Object:
        with self._lock:
            found = self._objects.get((resource_name, parent_id), {}).get(object_id)
            if found is None:
                raise ObjectNotFoundError(object_id)
            return copy.deepcopy(found)

    def get_many(
        self,
        resource_name: str,
        parent_id: str,
        object_ids: list[str],
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> dict[str, Object]:
        with self._lock:
            group = self._objects.get((resource_name, parent_id), {})
            return {oid: copy.deepcopy(group[oid]) for oid in object_ids if oid in group}

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
            self._put_live(journal, key, object_id, new)
            return copy.deepcopy(new)

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
            if object_id not in self._objects.get(key, {}):
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
        with self._lock:
            entries = self._entries(resource_name, parent_id, include_deleted)
            selected = _select(
                entries, filters, sorting, pagination_rules, cap, id_field, modified_field
            )
            return [copy.deepcopy(obj) for _, obj in selected]

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
        keep = compile_filters(filters or [], id_field)
        with self._lock:
            entries = self._entries(resource_name, parent_id, include_deleted)
            return sum(1 for _, obj in entries if keep(obj))

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
        with self._writing() as journal:
            entries = self._entries(resource_name, parent_id, include_deleted=False)
            selected = _select(
                entries, filters, sorting, pagination_rules, cap, id_field, modified_field
            )
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
                group = self._tombstones[key]
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
                    self._store(journal, self._tombstones, key, object_id, None)
                removed += len(doomed)
            if resource_name is None and before is None:
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
            group = self._objects.get(key, {})
            matching = sorted(
                (item for item in group.items() if keep(item[1])),
                key=lambda item: item[1][modified_field],
                reverse=True,
            )
            doomed = [object_id for object_id, _ in matching[max_objects:]]
            for object_id in doomed:
                self._store(journal, self._objects, key, object_id, None)
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
        objects: dict[GroupKey, dict[str, Object]],
        tombstones: dict[GroupKey, dict[str, Object]],
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
        table: dict[GroupKey, dict[str, Object]],
        key: GroupKey,
        object_id: str,
        value: Object | None,
    ) -> None:
        """Set (or remove, with ``None``) one entry of ``table``, undoably."""
        group = table.get(key)
        if group is None:
            if value is None:
                return
            group = table[key] = {}
        previous = group.get(object_id)
        if value is None:
            group.pop(object_id, None)
        else:
            group[object_id] = value
        journal.on_abort(partial(_restore, group, object_id, previous))

    def _put_live(self, journal: UndoJournal, key: GroupKey, object_id: str, obj: Object) -> None:
        self._store(journal, self._objects, key, object_id, obj)
        self._store(journal, self._tombstones, key, object_id, None)

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
        self._store(journal, self._objects, key, object_id, None)
        if with_deleted:
            self._store(journal, self._tombstones, key, object_id, tombstone)
        return dict(tombstone)

    def _forget_empty_groups(self, journal: UndoJournal, parent_id: str) -> None:
        """Drop the timestamps of emptied groups, so a re-created bucket or
        collection starts afresh; groups still holding objects keep theirs
        (PostgreSQL derives it from them)."""
        for key in _matching_keys(self._timestamps, None, parent_id):
            if not self._objects.get(key) and not self._tombstones.get(key):
                self._store_timestamp(journal, key, None)

    def _entries(
        self, resource_name: str | None, parent_id: str, include_deleted: bool
    ) -> list[Entry]:
        tables = (self._objects, self._tombstones) if include_deleted else (self._objects,)
        return [
            (key, obj)
            for table in tables
            for key in _matching_keys(table, resource_name, parent_id)
            for obj in table[key].values()
        ]


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


def _select(
    entries: list[Entry],
    filters: list[Filter] | None,
    sorting: list[Sort] | None,
    pagination_rules: list[list[Filter]] | None,
    limit: int,
    id_field: str,
    modified_field: str = DEFAULT_MODIFIED_FIELD,
) -> list[Entry]:
    selected = entries
    if filters:
        keep = compile_filters(filters, id_field)
        selected = [entry for entry in selected if keep(entry[1])]
    if pagination_rules:
        after = compile_rules(pagination_rules, id_field)
        selected = [entry for entry in selected if after(entry[1])]
    if sorting and len(sorting) == 1 and sorting[0].field == modified_field:
        # The usual order (lists, ``_since`` polls): every object has an integer
        # timestamp and objects are kept roughly in write order, so a plain sort
        # on it is nearly linear, without a jsonb order key per object.
        by_timestamp = sorted(
            selected,
            key=lambda entry: entry[1][modified_field],
            reverse=sorting[0].direction < 0,
        )
        return by_timestamp[:limit]
    return sort_objects(selected, sorting or [], object_of=itemgetter(1))[:limit]


def _restore(mapping: dict, key: Any, previous: Any) -> None:
    if previous is None:
        mapping.pop(key, None)
    else:
        mapping[key] = previous


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
