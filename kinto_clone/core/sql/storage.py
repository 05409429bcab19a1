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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from pyramid.config import Configurator
from pyramid.settings import asbool
from sqlalchemy.engine import Connection, Engine

from kinto_clone.core.sql import tables
from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.sql.engine import engine_from_config
from kinto_clone.core.sql.query import ObjectQueries, group_condition
from kinto_clone.core.sql.schema import Migration, Schema, check_schema, create
from kinto_clone.core.sql.session import SQLParticipant, participate, ping
from kinto_clone.core.sql.tables import dump_document, objects, timestamps
from kinto_clone.core.sql.timestamps import Group, GroupTimestamps, msec_now, next_timestamp
from kinto_clone.core.storage import (
    DEFAULT_DELETED_FIELD,
    DEFAULT_ID_FIELD,
    DEFAULT_MODIFIED_FIELD,
    Filter,
    Object,
    ObjectNotFoundError,
    ReadonlyError,
    Sort,
    StorageBase,
    UnicityError,
    generators,
)

__all__ = ["SCHEMA", "SQLStorage", "load_from_config"]

DEFAULT_MAX_FETCH_SIZE = 10000

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
        self._max_fetch_size = max_fetch_size
        self._readonly = readonly
        self._timestamps = GroupTimestamps(dialect, clock)

    # Administration

    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        return self.schema.migrate(self._engine, self._dialect, dry_run=dry_run)

    def healthcheck(self) -> bool:
        return ping(self._engine)

    def flush(self) -> None:
        with self._session() as participant:
            connection = participant.writer()
            connection.execute(sa.delete(objects))
            connection.execute(sa.delete(timestamps))

    # Timestamps

    def lock_for_write(self, resource_name: str, parent_id: str) -> None:
        with self._session() as participant:
            self._timestamps.lock(participant, [(resource_name, parent_id)])

    def resource_timestamp(self, resource_name: str, parent_id: str) -> int:
        group = (resource_name, parent_id)
        with self._session() as participant:
            current = self._timestamps.current(participant.connection, group)
            if current is not None:
                return current
            if self._readonly:
                raise ReadonlyError(
                    message="Cannot initialize empty resource timestamp when running in readonly."
                )
            # Creating it is a write, made under the group's lock so that it
            # cannot interleave with the group's first object.
            connection = self._timestamps.lock(participant, [group])
            current = self._timestamps.current(connection, group)
            if current is None:
                current = self._timestamps.clock()
                self._timestamps.save(connection, {group: current})
            return current

    def all_resources_timestamps(self, resource_name: str) -> dict[str, int]:
        query = sa.select(timestamps.c.parent_id, timestamps.c.last_modified).where(
            timestamps.c.resource_name == resource_name
        )
        with self._session() as participant:
            return dict(participant.connection.execute(query).all())

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
            connection = self._timestamps.lock(participant, [group])
            stamp = self._timestamps.next(connection, group, obj.get(modified_field))
            insert = self._insert_object(group, object_id, stamp, payload)
            # A tombstone with that id is replaced; a live object is not.
            upsert = insert.on_conflict_do_update(
                index_elements=[objects.c.resource_name, objects.c.parent_id, objects.c.id],
                set_=_replaced(insert),
                where=objects.c.deleted,
            ).returning(objects.c.id)
            if connection.execute(upsert).first() is None:
                existing = self._get(connection, group, object_id, id_field, modified_field)
                raise UnicityError(id_field, existing)
            self._timestamps.save(connection, {group: stamp})
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
            found = self._get(participant.connection, group, object_id, id_field, modified_field)
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
            rows = participant.connection.execute(query).all()
        found = {
            row.id: {**row.data, id_field: row.id, modified_field: row.last_modified}
            for row in rows
        }
        return {object_id: found[object_id] for object_id in object_ids if object_id in found}

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
        with self._session() as participant:
            connection = self._timestamps.lock(participant, [group])
            stamp = self._timestamps.next(connection, group, obj.get(modified_field))
            insert = self._insert_object(group, object_id, stamp, payload)
            connection.execute(
                insert.on_conflict_do_update(
                    index_elements=[objects.c.resource_name, objects.c.parent_id, objects.c.id],
                    set_=_replaced(insert),
                )
            )
            self._timestamps.save(connection, {group: stamp})
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
        target = sa.and_(
            group_condition(objects, resource_name, parent_id),
            objects.c.id == object_id,
            sa.not_(objects.c.deleted),
        )
        with self._session() as participant:
            connection = self._timestamps.lock(participant, [group])
            stamp = self._timestamps.next(connection, group, last_modified)
            if with_deleted:
                statement = (
                    sa.update(objects)
                    .where(target)
                    .values(
                        deleted=True,
                        data=self._dialect.document(dump_document({deleted_field: True})),
                        last_modified=stamp,
                    )
                )
            else:
                statement = sa.delete(objects).where(target)
            if connection.execute(statement.returning(objects.c.id)).first() is None:
                raise ObjectNotFoundError(object_id)
            self._timestamps.save(connection, {group: stamp})
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
        # One more than the fetch size when a limit is asked, like Kinto's
        # PostgreSQL backend: the resource layer's "is there a next page" probe.
        cap = min(limit, self._max_fetch_size + 1) if limit else self._max_fetch_size
        columns = [objects.c.id, objects.c.last_modified, objects.c.deleted, objects.c.data]
        query = (
            sa.select(*columns)
            .where(
                self._matching(
                    resource_name,
                    parent_id,
                    filters,
                    pagination_rules,
                    include_deleted,
                    id_field,
                    modified_field,
                )
            )
            .order_by(*self._queries.order(sorting or [], id_field, modified_field))
            .limit(cap)
        )
        with self._session() as participant:
            rows = participant.connection.execute(query).all()
        return [
            {id_field: row.id, modified_field: row.last_modified, deleted_field: True}
            if row.deleted
            else {**row.data, id_field: row.id, modified_field: row.last_modified}
            for row in rows
        ]

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
            return participant.connection.execute(query).scalar_one()

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
            connection = participant.connection
            doomed = connection.execute(query).all() if groups else []
            if not doomed:
                return []
            # Each group hands out increasing timestamps, in the sort order.
            current = self._timestamps.current_of_groups(connection, groups)
            now = self._timestamps.clock()
            stamps: dict[Group, int] = {}
            rows = []
            for resource, parent, object_id in doomed:
                group = (resource, parent)
                stamp = next_timestamp(stamps.get(group, current.get(group)), None, now)
                stamps[group] = stamp
                rows.append({"k_rn": resource, "k_pid": parent, "k_id": object_id, "k_ts": stamp})
            self._bury(connection, rows, with_deleted, deleted_field)
            self._timestamps.save(connection, stamps)
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
            removed = participant.writer().execute(statement).rowcount
            if resource_name is None and before is None:
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
            return participant.writer().execute(statement).rowcount

    # Internals

    @contextmanager
    def _session(self) -> Iterator[SQLParticipant]:
        with participate(self._engine, self._dialect) as participant:
            yield participant

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
        connection = participant.writer()
        if resource_name is not None and "*" not in parent_id:
            groups = [(resource_name, parent_id)]
        else:
            query = sa.select(objects.c.resource_name, objects.c.parent_id).where(matching)
            groups = [(rn, pid) for rn, pid in connection.execute(query.distinct())]
            if groups:
                in_groups = sa.tuple_(objects.c.resource_name, objects.c.parent_id).in_(groups)
                matching = sa.and_(matching, in_groups)
        self._timestamps.lock(participant, groups)
        return groups, matching

    def _get(
        self,
        connection: Connection,
        group: Group,
        object_id: str,
        id_field: str,
        modified_field: str,
    ) -> Object | None:
        query = sa.select(objects.c.last_modified, objects.c.data).where(
            group_condition(objects, *group),
            objects.c.id == object_id,
            sa.not_(objects.c.deleted),
        )
        row = connection.execute(query).first()
        if row is None:
            return None
        return {**row.data, id_field: object_id, modified_field: row.last_modified}

    def _insert_object(self, group: Group, object_id: str, stamp: int, payload: str) -> Any:
        return self._dialect.insert(objects).values(
            resource_name=group[0],
            parent_id=group[1],
            id=object_id,
            last_modified=stamp,
            deleted=False,
            data=self._dialect.document(payload),
        )

    def _bury(
        self,
        connection: Connection,
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
            tombstone = self._dialect.document(dump_document({deleted_field: True}))
            statement = (
                sa.update(objects)
                .where(key)
                .values(deleted=True, data=tombstone, last_modified=sa.bindparam("k_ts"))
            )
        else:
            statement = sa.delete(objects).where(key)
        connection.execute(statement, rows)


def _payload(obj: Object, id_field: str, modified_field: str) -> str:
    """The stored JSON of an object: everything but its id and timestamp, which
    have their own columns.  Serializing first refuses non-JSON values before
    anything is written."""
    return dump_document({k: v for k, v in obj.items() if k not in (id_field, modified_field)})


def _replaced(insert: Any) -> dict[str, Any]:
    """``SET`` clause of an upsert replacing the existing row (or tombstone)."""
    return {
        "last_modified": insert.excluded.last_modified,
        "deleted": False,
        "data": insert.excluded.data,
    }


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
