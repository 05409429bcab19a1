"""Storage backend on PostgreSQL or SQLite (see :mod:`kinto_clone.core.storage`).

Live objects and tombstones are rows of one table, ``objects``; a tombstone has
``deleted`` set and ``{"deleted": true}`` as data, so that a ``_since`` query
reads both in one index range.  Every write goes through
:class:`~kinto_clone.core.sql.timestamps.GroupTimestamps`, which hands out
timestamps in commit order.  Each method is a fixed, small number of statements,
filtered, sorted and paginated by the database (:mod:`.query`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from pyramid.config import Configurator
from pyramid.settings import asbool
from sqlalchemy.engine import Engine

from kinto_clone.core import transaction
from kinto_clone.core.sql import tables
from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.sql.engine import engine_from_config
from kinto_clone.core.sql.permission import SQLPermission
from kinto_clone.core.sql.prefetch import SQLPrefetcher
from kinto_clone.core.sql.query import ListStatements, ObjectQueries, group_condition
from kinto_clone.core.sql.schema import Migration, Schema, check_schema, create
from kinto_clone.core.sql.session import SQLParticipant, participate, ping
from kinto_clone.core.sql.tables import dump_document, load_documents, objects, timestamps
from kinto_clone.core.sql.timestamps import (
    STAMP,
    Group,
    GroupTimestamps,
    lock_name,
    msec_now,
    next_timestamp,
)
from kinto_clone.core.storage import (
    DEFAULT_DELETED_FIELD,
    DEFAULT_ID_FIELD,
    DEFAULT_MODIFIED_FIELD,
    Filter,
    Object,
    ObjectKey,
    ObjectNotFoundError,
    ReadonlyError,
    ResourceCount,
    Sort,
    StorageBase,
    UnicityError,
    generators,
)

__all__ = ["SCHEMA", "SQLStorage", "load_from_config"]

DEFAULT_MAX_FETCH_SIZE = 10000
# Documents as text, decoded together (:func:`~.tables.load_documents`).
_LISTED_COLUMNS = (
    objects.c.id,
    objects.c.last_modified,
    objects.c.deleted,
    sa.cast(objects.c.data, sa.Text).label("data"),
)

# After a write conflict on an object, its writers in this process lock before
# reading until its writes pause this long; at most this many are remembered.
CONTENDED_SECONDS = 1.0
MAX_CONTENDED = 10000

SCHEMA = Schema(
    "storage",
    tables=["objects", "timestamps"],
    migrations=[
        Migration(
            "create tables objects and timestamps",
            create(objects, timestamps, tables.objects_by_timestamp),
        ),
        Migration(
            "index objects by parent_id (deletions under a parent, for every resource)",
            create(tables.objects_by_parent),
        ),
    ],
)


class SQLStorage(StorageBase):
    """See the module docstring; one instance per application."""

    schema = SCHEMA

    def __init__(
        self,
        engine: Engine,
        dialect: Dialect,
        max_fetch_size: int = DEFAULT_MAX_FETCH_SIZE,
        readonly: bool = False,
        clock: Callable[[], int] = msec_now,
    ) -> None:
        self._engine = engine
        self._dialect = dialect
        self._queries = ObjectQueries(dialect.fields)
        self._lists = ListStatements(self._queries, _LISTED_COLUMNS)
        self._max_fetch_size = max_fetch_size
        self._readonly = readonly
        self._timestamps = GroupTimestamps(dialect, clock)
        self._statements = ObjectStatements(dialect, self._timestamps)
        # When objects last met a write conflict (see checks_versions).
        self._contended: dict[ObjectKey, float] = {}

    # Administration

    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        return self.schema.migrate(self._engine, self._dialect, dry_run=dry_run)

    def healthcheck(self) -> bool:
        return ping(self._engine)

    def flush(self) -> None:
        with self._session() as participant:
            participant.writer()
            participant.execute(sa.delete(objects))
            participant.execute(sa.delete(timestamps))
            self._timestamps.forget(participant)
            _known_objects(participant).clear()
        self._contended.clear()

    # Timestamps

    def lock_for_write(self, resource_name: str, parent_id: str) -> None:
        group = (resource_name, parent_id)
        with self._session() as participant:
            if participant.holds(lock_name(group)):
                return
            # Sent with the next statement: the read of the object to write.
            self._timestamps.defer_lock(participant, [group])
            # What was read of the group before its lock may have changed since.
            _forget_objects(participant, resource_name, parent_id)

    def checks_versions(self, resource_name: str, parent_id: str, object_id: str) -> bool:
        """Where one statement can lock, check and write (PostgreSQL): the
        lock then waits for no Python work of the request.

        Except for an object that met a conflict in this process, until its
        writes pause for :data:`CONTENDED_SECONDS`: concurrent writers of one
        object would mostly conflict and run twice, so they queue on the lock
        instead (a write locking first changes nothing for a lone writer).
        """
        if not self._dialect.writes_in_common_table_expressions or transaction.locks_first():
            return False
        key = (resource_name, parent_id, object_id)
        since = self._contended.get(key)
        if since is None:
            return True
        now = time.monotonic()
        if now - since > CONTENDED_SECONDS:
            self._contended.pop(key, None)
            return True
        self._contended[key] = now
        return False

    def expect_version(
        self, resource_name: str, parent_id: str, object_id: str, last_modified: int | None
    ) -> None:
        with self._session() as participant:
            _expected_versions(participant)[(resource_name, parent_id, object_id)] = last_modified

    def resource_timestamp(self, resource_name: str, parent_id: str) -> int:
        group = (resource_name, parent_id)
        with self._session() as participant:
            if "*" in parent_id:
                # Every group listed with this pattern: a wildcard list (accounts
                # of an admin) changes with any of them.
                newest = self._timestamps.newest(participant, resource_name, parent_id)
                if newest is not None:
                    return newest
            prefetched = _prefetched_timestamps(participant).get(group)
            if prefetched is not None:
                return prefetched
            current = self._timestamps.current(participant, group)
            if current is not None:
                return current
            if self._readonly:
                raise ReadonlyError(
                    message="Cannot initialize empty resource timestamp when running in readonly."
                )
            return self._timestamps.initialize(participant, group)

    def all_resources_timestamps(self, resource_name: str) -> dict[str, int]:
        query = sa.select(timestamps.c.parent_id, timestamps.c.last_modified).where(
            timestamps.c.resource_name == resource_name
        )
        with self._session() as participant:
            return dict(participant.execute(query).all())

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
        object_id = obj[id_field] if id_field in obj else (id_generator or self.id_generator)()
        payload = _payload(obj, id_field, modified_field)
        group = (resource_name, parent_id)
        with self._session() as participant:
            expected = _expected_versions(participant).pop((*group, object_id), UNCHECKED)
            stamp = self._timestamps.write(
                participant,
                group,
                self._statements.create,
                {"object_id": object_id, "document": payload},
                wanted=obj.get(modified_field),
            )
            if stamp is None:
                if expected is not UNCHECKED:
                    raise self._conflict((*group, object_id))
                _forget_objects(participant, resource_name, parent_id)
                existing = self._get(participant, group, object_id, id_field, modified_field)
                raise UnicityError(id_field, existing)
            _forget_objects(participant, resource_name, parent_id)
        return {**json.loads(payload), id_field: object_id, modified_field: stamp}

    def get(
        self,
        resource_name: str,
        parent_id: str,
        object_id: str,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> Object:
        with self._session() as participant:
            group = (resource_name, parent_id)
            found = self._get(participant, group, object_id, id_field, modified_field)
        if found is None:
            raise ObjectNotFoundError(object_id)
        return found

    def get_many(
        self,
        resource_name: str,
        parent_id: str,
        object_ids: list[str],
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> dict[str, Object]:
        if not object_ids:
            return {}
        query = sa.select(objects.c.id, objects.c.last_modified, objects.c.data).where(
            group_condition(objects, resource_name, parent_id),
            objects.c.id.in_(list(object_ids)),
            sa.not_(objects.c.deleted),
        )
        with self._session() as participant:
            rows = participant.execute(query).all()
        found = {
            row.id: {**row.data, id_field: row.id, modified_field: row.last_modified}
            for row in rows
        }
        return {object_id: found[object_id] for object_id in object_ids if object_id in found}

    def get_by_keys(self, keys: list[ObjectKey]) -> dict[ObjectKey, Object]:
        """Kept for the transaction (``known_objects``): the sub-requests of
        a batch writing one collection check its parents once."""
        with self._session() as participant:
            missing = self.unknown_keys(participant, keys)
            if missing:
                rows = participant.fetch(*self._statements.by_keys(missing))
                found = [
                    ((rn, pid, object_id), stamp, data) for rn, pid, object_id, stamp, data in rows
                ]
                self.remember_objects(participant, missing, found)
            known = _known_objects(participant)
            return {key: dict(obj) for key in keys if (obj := known[key]) is not None}

    # Prefetching (kinto_clone.core.prefetch)

    def prefetcher(self, permission: Any) -> SQLPrefetcher | None:
        """Plans read in one statement when ``permission`` is on this database."""
        if isinstance(permission, SQLPermission) and permission.engine is self._engine:
            return SQLPrefetcher(self._engine, self._dialect, self, permission)
        return None

    @staticmethod
    def unknown_keys(participant: SQLParticipant, keys: list[ObjectKey]) -> list[ObjectKey]:
        known = _known_objects(participant)
        return [key for key in dict.fromkeys(keys) if key not in known]

    def keys_condition(self, keys: list[ObjectKey]) -> tuple[Any, dict[str, Any]]:
        return self._statements.keys_condition(keys)

    @staticmethod
    def remember_objects(
        participant: SQLParticipant,
        keys: list[ObjectKey],
        found: list[tuple[ObjectKey, int, dict[str, Any]]],
    ) -> None:
        """Record what was read of ``keys``, here or by a prefetch (those not
        found: missing)."""
        known = _known_objects(participant)
        known.update(dict.fromkeys(keys))
        for key, last_modified, data in found:
            known[key] = {**data, DEFAULT_ID_FIELD: key[2], DEFAULT_MODIFIED_FIELD: last_modified}

    @staticmethod
    def knows_timestamp(participant: SQLParticipant, group: Group) -> bool:
        return group in _prefetched_timestamps(participant)

    @staticmethod
    def remember_timestamp(participant: SQLParticipant, group: Group, timestamp: int) -> None:
        """Record a group timestamp a prefetch read, for :meth:`resource_timestamp`."""
        _prefetched_timestamps(participant)[group] = timestamp

    def _page_cap(self, limit: int | None) -> int:
        # One more than the fetch size when a limit is asked, like Kinto's
        # PostgreSQL backend: the resource layer's "is there a next page" probe.
        return min(limit, self._max_fetch_size + 1) if limit else self._max_fetch_size

    def update(
        self,
        resource_name: str,
        parent_id: str,
        object_id: str,
        obj: Object,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> Object:
        payload = _payload(obj, id_field, modified_field)
        group = (resource_name, parent_id)
        parameters = {"object_id": object_id, "document": payload}
        with self._session() as participant:
            expected = _expected_versions(participant).pop((*group, object_id), UNCHECKED)
            statement = self._statements.update
            if expected is not UNCHECKED and expected is not None:
                statement = self._statements.update_checked
                parameters["seen"] = expected
            stamp = self._timestamps.write(
                participant, group, statement, parameters, wanted=obj.get(modified_field)
            )
            if stamp is None:
                # Only the checked update may write nothing (an upsert always writes).
                raise self._conflict((*group, object_id))
            _forget_objects(participant, resource_name, parent_id)
        return {**json.loads(payload), id_field: object_id, modified_field: stamp}

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
        group = (resource_name, parent_id)
        statements = self._statements
        if with_deleted:
            statement, checked = statements.bury, statements.bury_checked
            parameters = {"object_id": object_id, "document": dump_document({deleted_field: True})}
        else:
            statement, checked = statements.remove, statements.remove_checked
            parameters = {"object_id": object_id}
        with self._session() as participant:
            expected = _expected_versions(participant).pop((*group, object_id), UNCHECKED)
            if expected is not UNCHECKED and expected is not None:
                statement = checked
                parameters["seen"] = expected
            stamp = self._timestamps.write(
                participant, group, statement, parameters, wanted=last_modified
            )
            if stamp is None:
                if expected is not UNCHECKED:
                    raise self._conflict((*group, object_id))
                raise ObjectNotFoundError(object_id)
            _forget_objects(participant, resource_name, parent_id)
        return {id_field: object_id, modified_field: stamp, deleted_field: True}

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
        shaped, values = self._lists.select(
            resource_name,
            parent_id,
            filters or [],
            sorting or [],
            pagination_rules or [],
            include_deleted,
            id_field,
            modified_field,
            self._page_cap(limit),
        )
        with self._session() as participant:
            rows = participant.fetch_shaped(shaped, values)
        documents = load_documents([row[3] for row in rows])
        found = []
        # Rows unpacked as tuples: a page is up to thousands of rows, and
        # attribute access on them costs more than building the objects.  The
        # documents are new: completed in place (an existing key keeps its
        # position, as in ``{**data, key: value}``).
        for (object_id, stamp, deleted, _), data in zip(rows, documents, strict=True):
            if deleted:
                found.append({id_field: object_id, modified_field: stamp, deleted_field: True})
            else:
                data[id_field] = object_id
                data[modified_field] = stamp
                found.append(data)
        return found

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
        condition = self._matching(
            resource_name, parent_id, filters, None, include_deleted, id_field, modified_field
        )
        query = sa.select(sa.func.count()).select_from(objects).where(condition)
        with self._session() as participant:
            return participant.execute(query).scalar_one()

    def count_by_resource(self, resource_names: list[str]) -> dict[str, ResourceCount]:
        tombstone = sa.case((objects.c.deleted, 1), else_=0)
        query = (
            sa.select(
                objects.c.resource_name,
                sa.func.count() - sa.func.sum(tombstone),
                sa.func.sum(tombstone),
            )
            .where(objects.c.resource_name.in_(resource_names))
            .group_by(objects.c.resource_name)
        )
        counts = dict.fromkeys(resource_names, ResourceCount(0, 0))
        with self._session() as participant:
            for name, live, deleted in participant.execute(query):
                counts[name] = ResourceCount(int(live), int(deleted))
        return counts

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
        matching = self._matching(
            resource_name, parent_id, filters, pagination_rules, False, id_field, modified_field
        )
        with self._session() as participant:
            groups, matching = self._lock_groups(participant, resource_name, parent_id, matching)
            query = (
                sa.select(objects.c.resource_name, objects.c.parent_id, objects.c.id)
                .where(matching)
                .order_by(*self._queries.order(sorting or [], id_field, modified_field))
                .limit(cap)
            )
            doomed = participant.execute(query).all() if groups else []
            if not doomed:
                return []
            # Each group hands out increasing timestamps, in the sort order.
            current = self._timestamps.current_of_groups(participant, groups)
            now = self._timestamps.clock()
            stamps: dict[Group, int] = {}
            rows = []
            for resource, parent, object_id in doomed:
                group = (resource, parent)
                stamp = next_timestamp(stamps.get(group, current.get(group)), None, now)
                stamps[group] = stamp
                rows.append({"k_rn": resource, "k_pid": parent, "k_id": object_id, "k_ts": stamp})
            self._bury(participant, rows, with_deleted, deleted_field)
            self._timestamps.save(participant, stamps)
            for resource, parent in stamps:
                _forget_objects(participant, resource, parent)
        return [
            {id_field: row["k_id"], modified_field: row["k_ts"], deleted_field: True}
            for row in rows
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
        tombstones = sa.and_(group_condition(objects, resource_name, parent_id), objects.c.deleted)
        if before is not None:
            tombstones = sa.and_(tombstones, objects.c.last_modified < before)
        statement = sa.delete(objects)
        if max_retained is None:
            statement = statement.where(tombstones)
        else:
            position = sa.func.row_number().over(
                partition_by=[objects.c.resource_name, objects.c.parent_id],
                order_by=objects.c.last_modified.desc(),
            )
            ranked = (
                sa.select(
                    objects.c.resource_name,
                    objects.c.parent_id,
                    objects.c.id,
                    position.label("position"),
                )
                .where(tombstones)
                .subquery()
            )
            surplus = sa.select(ranked.c.resource_name, ranked.c.parent_id, ranked.c.id).where(
                ranked.c.position > max_retained
            )
            keys = sa.tuple_(objects.c.resource_name, objects.c.parent_id, objects.c.id)
            statement = statement.where(keys.in_(surplus))
        with self._session() as participant:
            participant.writer()
            removed = participant.execute(statement).rowcount
            if resource_name is None and before is None:
                self._timestamps.forget_empty(participant, parent_id)
        return removed

    def purge_all(self, parent_id: str) -> int:
        in_parent = group_condition(objects, None, parent_id)
        with self._session() as participant:
            # The groups are locked before their rows, as writers do, so that
            # one writing there meanwhile waits instead of deadlocking.
            groups, _ = self._lock_groups(participant, None, parent_id, in_parent)
            removed = 0
            if groups:
                removed = participant.execute(sa.delete(objects).where(in_parent)).rowcount
            for resource, parent in groups:
                _forget_objects(participant, resource, parent)
            self._timestamps.forget_empty(participant, parent_id)
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
        in_group = group_condition(objects, resource_name, parent_id)
        surplus = (
            sa.select(objects.c.id)
            .where(
                in_group,
                sa.not_(objects.c.deleted),
                self._queries.filters(filters, id_field, modified_field),
            )
            .order_by(objects.c.last_modified.desc())
            .offset(max_objects)
        )
        statement = sa.delete(objects).where(in_group, objects.c.id.in_(surplus))
        with self._session() as participant:
            participant.writer()
            _forget_objects(participant, resource_name, parent_id)
            return participant.execute(statement).rowcount

    # Internals

    def _conflict(self, key: ObjectKey) -> transaction.WriteConflict:
        """The conflict to raise for ``key``, remembered as contended."""
        if len(self._contended) >= MAX_CONTENDED:
            self._contended.clear()
        self._contended[key] = time.monotonic()
        return transaction.write_conflict(f"{key} changed since it was read")

    def _session(self) -> participate:
        return participate(self._engine, self._dialect)

    def _matching(
        self,
        resource_name: str | None,
        parent_id: str,
        filters: list[Filter] | None,
        pagination_rules: list[list[Filter]] | None,
        include_deleted: bool,
        id_field: str,
        modified_field: str,
    ) -> sa.ColumnElement[bool]:
        conditions = [
            group_condition(objects, resource_name, parent_id),
            self._queries.filters(filters or [], id_field, modified_field),
        ]
        if not include_deleted:
            conditions.append(sa.not_(objects.c.deleted))
        if pagination_rules:
            conditions.append(self._queries.rules(pagination_rules, id_field, modified_field))
        return sa.and_(*conditions)

    def _lock_groups(
        self,
        participant: SQLParticipant,
        resource_name: str | None,
        parent_id: str,
        matching: sa.ColumnElement[bool],
    ) -> tuple[list[Group], sa.ColumnElement[bool]]:
        """Lock the groups holding objects ``matching``; return them, and the
        condition restricted to them.

        With a ``*`` in ``parent_id`` or every resource, the groups are those
        found now: objects of a group created afterwards are left alone, their
        timestamps are not ours to hand out.
        """
        participant.writer()
        if resource_name is not None and "*" not in parent_id:
            groups = [(resource_name, parent_id)]
        else:
            query = sa.select(objects.c.resource_name, objects.c.parent_id).where(matching)
            groups = [(rn, pid) for rn, pid in participant.execute(query.distinct())]
            if groups:
                group_columns = [objects.c.resource_name, objects.c.parent_id]
                in_groups = self._dialect.keys_in(group_columns, groups)
                matching = sa.and_(matching, in_groups)
        self._timestamps.lock(participant, groups)
        return groups, matching

    def _get(
        self,
        participant: SQLParticipant,
        group: Group,
        object_id: str,
        id_field: str,
        modified_field: str,
    ) -> Object | None:
        key = (group[0], group[1], object_id)
        known = _known_objects(participant)
        if key in known and id_field == DEFAULT_ID_FIELD:
            found = known[key]
            return None if found is None else dict(found)
        parameters = {"rn": group[0], "pid": group[1], "object_id": object_id}
        rows = participant.fetch(self._statements.get, parameters)
        if not rows:
            return None
        last_modified, data = rows[0]
        return {**data, id_field: object_id, modified_field: last_modified}

    def _bury(
        self,
        participant: SQLParticipant,
        rows: list[dict[str, Any]],
        with_deleted: bool,
        deleted_field: str,
    ) -> None:
        """Turn the rows into tombstones (or remove them), in one batch."""
        statement: Any
        key = sa.and_(
            objects.c.resource_name == sa.bindparam("k_rn"),
            objects.c.parent_id == sa.bindparam("k_pid"),
            objects.c.id == sa.bindparam("k_id"),
        )
        if with_deleted:
            tombstone = self._dialect.document(
                sa.literal(dump_document({deleted_field: True}), sa.Text)
            )
            statement = (
                sa.update(objects)
                .where(key)
                .values(deleted=True, data=tombstone, last_modified=sa.bindparam("k_ts"))
            )
        else:
            statement = sa.delete(objects).where(key)
        participant.execute(statement, rows)


def _known_objects(participant: SQLParticipant) -> dict[ObjectKey, Object | None]:
    """Objects read by :meth:`SQLStorage.get_by_keys` in this transaction
    (``None``: missing), until the transaction writes their group."""
    known: dict[ObjectKey, Object | None] = participant.memo.setdefault("known_objects", {})
    return known


# No version to check: the object was not read by :meth:`SQLStorage.expect_version`.
UNCHECKED = object()


def _expected_versions(participant: SQLParticipant) -> dict[ObjectKey, int | None]:
    """The versions that this transaction's next write of each object expects
    (:meth:`SQLStorage.expect_version`)."""
    expected: dict[ObjectKey, int | None] = participant.memo.setdefault("expected_versions", {})
    return expected


def _prefetched_timestamps(participant: SQLParticipant) -> dict[Group, int]:
    """Group timestamps prefetched in this transaction, until it writes the group."""
    stamps: dict[Group, int] = participant.memo.setdefault("prefetched_timestamps", {})
    return stamps


def _forget_objects(participant: SQLParticipant, resource_name: str, parent_id: str) -> None:
    """Drop the :func:`_known_objects` and prefetched timestamp of a group this
    transaction writes (of every group, for a ``parent_id`` pattern)."""
    known = _known_objects(participant)
    stamps = _prefetched_timestamps(participant)
    if "*" in parent_id:
        known.clear()
        stamps.clear()
    for key in [key for key in known if key[0] == resource_name and key[1] == parent_id]:
        del known[key]
    stamps.pop((resource_name, parent_id), None)


def _payload(obj: Object, id_field: str, modified_field: str) -> str:
    """The stored JSON of an object: everything but its id and timestamp, which
    have their own columns.  Serializing first refuses non-JSON values before
    anything is written."""
    return dump_document({k: v for k, v in obj.items() if k not in (id_field, modified_field)})


def _replaced(insert: Any) -> dict[str, Any]:
    """``SET`` clause of an upsert replacing the existing row (or tombstone)."""
    return {
        "last_modified": insert.excluded.last_modified,
        "deleted": sa.false(),
        "data": insert.excluded.data,
    }


# Statements reading up to this many keys are kept, one per key count, where the
# dialect needs the keys written out (see :meth:`ObjectStatements.by_keys`).
MAX_PREBUILT_KEYS = 32


class ObjectStatements:
    """The statements of single-object reads and writes, built once: building
    a statement costs more CPU than PostgreSQL takes to run it.

    Parameters: ``rn``, ``pid`` (the group), ``object_id``, ``document`` (JSON
    text), ``seen`` (the ``last_modified`` a checked write expects), and those
    of :data:`~kinto_clone.core.sql.timestamps.STAMP` for writes, which return
    the timestamp they gave (none is named after a column: an ``UPDATE`` would
    take it for a new value).  No value is embedded: they may be sent as driver
    SQL (:meth:`SQLParticipant.fetch`).
    """

    def __init__(self, dialect: Dialect, group_timestamps: GroupTimestamps) -> None:
        text = sa.Text
        key = sa.and_(
            objects.c.resource_name == sa.bindparam("rn", type_=text),
            objects.c.parent_id == sa.bindparam("pid", type_=text),
            objects.c.id == sa.bindparam("object_id", type_=text),
            sa.not_(objects.c.deleted),
        )
        self.get = sa.select(objects.c.last_modified, objects.c.data).where(key)
        # The object as a writer read it (:meth:`SQLStorage.expect_version`).
        seen = sa.and_(key, objects.c.last_modified == sa.bindparam("seen", type_=sa.BigInteger))
        self._dialect = dialect
        self._select_keys = sa.select(
            objects.c.resource_name,
            objects.c.parent_id,
            objects.c.id,
            objects.c.last_modified,
            objects.c.data,
        ).where(sa.not_(objects.c.deleted))
        keys = sa.tuple_(objects.c.resource_name, objects.c.parent_id, objects.c.id)
        self._keys_in_list = keys.in_(sa.bindparam("keys", expanding=True))
        self._by_key_count: dict[int, Any] = {}
        self._by_key_condition: dict[Any, Any] = {}
        document = dialect.document(sa.bindparam("document", type_=text))
        insert = dialect.insert(objects).values(
            resource_name=sa.bindparam("rn", type_=text),
            parent_id=sa.bindparam("pid", type_=text),
            id=sa.bindparam("object_id", type_=text),
            last_modified=STAMP,
            deleted=sa.false(),
            data=document,
        )
        index = [objects.c.resource_name, objects.c.parent_id, objects.c.id]
        stamped = group_timestamps.stamped
        returned = objects.c.last_modified
        # A tombstone with that id is replaced; a live object is not.
        self.create = stamped(
            insert.on_conflict_do_update(
                index_elements=index, set_=_replaced(insert), where=objects.c.deleted
            ).returning(returned)
        )
        self.update = stamped(
            insert.on_conflict_do_update(index_elements=index, set_=_replaced(insert)).returning(
                returned
            )
        )
        self.update_checked = stamped(
            sa.update(objects)
            .where(seen)
            .values(data=document, last_modified=STAMP)
            .returning(returned)
        )
        bury = sa.update(objects).values(deleted=sa.true(), data=document, last_modified=STAMP)
        self.bury = stamped(bury.where(key).returning(returned))
        self.bury_checked = stamped(bury.where(seen).returning(returned))
        # No tombstone keeps the timestamp: the statement returns it.
        remove = sa.delete(objects).returning(STAMP.label("last_modified"))
        self.remove = stamped(remove.where(key))
        self.remove_checked = stamped(remove.where(seen))

    def by_keys(self, keys: list[ObjectKey]) -> tuple[Any, dict[str, Any]]:
        """The statement reading the live objects of ``keys`` and its parameters."""
        condition, parameters = self.keys_condition(keys)
        statement = self._by_key_condition.get(condition)
        if statement is None:
            statement = self._by_key_condition[condition] = self._select_keys.where(condition)
        return statement, parameters

    def keys_condition(self, keys: list[ObjectKey]) -> tuple[Any, dict[str, Any]]:
        """Whether a row of ``objects`` has one of ``keys``, and its parameters.

        Built once where the driver expands the list itself; written out per
        key count elsewhere, in the form the dialect's index answers (SQLite
        scans the table for a row-value ``IN`` list), and kept up to
        :data:`MAX_PREBUILT_KEYS` keys.
        """
        if self._dialect.driver_adapts_sequences:
            return self._keys_in_list, {"keys": keys}
        condition = self._by_key_count.get(len(keys))
        if condition is None:
            columns = [objects.c.resource_name, objects.c.parent_id, objects.c.id]
            placeholders = [
                tuple(sa.bindparam(f"k{n}_{c}", type_=sa.Text) for c in range(3))
                for n in range(len(keys))
            ]
            condition = self._dialect.keys_in(columns, placeholders)
            if len(keys) <= MAX_PREBUILT_KEYS:
                self._by_key_count[len(keys)] = condition
        parameters = {
            f"k{n}_{c}": value for n, key in enumerate(keys) for c, value in enumerate(key)
        }
        return condition, parameters


def load_from_config(config: Configurator, dialect: Dialect) -> SQLStorage:
    """Build the storage backend of ``config``'s application on ``dialect``."""
    settings = config.get_settings()
    engine = engine_from_config(config, "storage", dialect)
    max_fetch_size = int(settings.get("storage_max_fetch_size") or DEFAULT_MAX_FETCH_SIZE)
    storage = SQLStorage(
        engine,
        dialect,
        max_fetch_size=max_fetch_size,
        readonly=asbool(settings.get("readonly", False)),
    )
    check_schema(SCHEMA, engine, dialect, settings)
    return storage
