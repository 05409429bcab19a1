"""A :class:`~kinto_clone.core.prefetch.ReadPlan` read in one statement.

The storage and permission backends on one database share a connection (see
:mod:`.session`), so the reads of a plan can be one ``UNION ALL``: one branch
per kind of row (principals, access control entries, objects, the list's
timestamp and page), each tagged with its kind.  The rows are then handed to
the backends' transaction memos, where their usual calls find them.

One statement also means one snapshot: the page and the list timestamp read
together are consistent, which the separate reads had to ensure with a filter.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kinto_clone.core.prefetch import PageQuery, ReadPlan
from kinto_clone.core.settings import AUTHENTICATED
from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.sql.session import SQLParticipant, participate
from kinto_clone.core.sql.tables import Document, objects
from kinto_clone.core.sql.tables import access_control_entries as aces
from kinto_clone.core.sql.tables import user_principals as members
from kinto_clone.core.storage import ObjectKey

__all__ = ["PAGE", "TIMESTAMP", "TOMBSTONE", "SQLPrefetcher", "kind_column", "nothing"]

PRINCIPAL, ACE, OBJECT, TIMESTAMP, PAGE = "p", "a", "o", "t", "r"
# Marks the page rows that are tombstones (their data is not the object).
TOMBSTONE = "d"


def kind_column(tag: str) -> sa.ColumnElement[str]:
    # A literal column, not a bound value: prebuilt statements embed no value.
    return sa.literal_column(f"'{tag}'", sa.Text).label("kind")


def nothing(type_: Any) -> sa.ColumnElement[Any]:
    return sa.cast(sa.null(), type_)


class SQLPrefetcher:
    """Reads plans for one :class:`~.storage.SQLStorage` and one
    :class:`~.permission.SQLPermission` on the same engine.

    Every branch returns ``(kind, text, text, text, integer, document,
    position)``, ``position`` ordering the rows of the page (a ``UNION ALL``
    keeps no order of its own).  The statement of each shape of plan (which
    branches, how many keys where the dialect needs them written out) is built
    once, except those reading a page, whose filters are written into them.
    """

    def __init__(self, engine: Engine, dialect: Dialect, storage: Any, permission: Any) -> None:
        self._engine = engine
        self._dialect = dialect
        self._storage = storage
        self._permission = permission
        self._statements: dict[tuple[Any, ...], Any] = {}

    def __call__(self, plan: ReadPlan) -> None:
        with participate(self._engine, self._dialect) as participant:
            user_id = plan.user_id
            if user_id is not None and self._permission.knows_principals(participant, user_id):
                user_id = None
            ace_ids = self._permission.unknown_object_ids(participant, plan.ace_object_ids)
            keys = self._storage.unknown_keys(participant, plan.object_keys)
            page = plan.page
            if user_id is None and not ace_ids and not keys and page is None:
                return
            statement, parameters = self._statement(user_id, ace_ids, keys, page)
            if page is None:
                rows = participant.fetch(statement, parameters)
            else:
                # Filter values are bound in the statement: SQLAlchemy sends it.
                rows = participant.execute(statement, parameters).all()
            self._remember(participant, rows, user_id, ace_ids, keys, page)

    def _statement(
        self,
        user_id: str | None,
        ace_ids: list[str],
        keys: list[ObjectKey],
        page: PageQuery | None,
    ) -> tuple[Any, dict[str, Any]]:
        key_statement, parameters = self._storage.keys_condition(keys) if keys else (None, {})
        shape = (user_id is not None, bool(ace_ids), key_statement)
        if page is not None:
            # Built per request: the page's filters are written into it.
            page_branches, page_parameters = self._storage.page_branches(page)
            statement = self._build(*shape, page_branches)
            parameters.update(page_parameters)
        else:
            statement = self._statements.get(shape)
            if statement is None:
                statement = self._statements[shape] = self._build(*shape, [])
        if user_id is not None:
            parameters["user_id"] = user_id
            parameters["authenticated"] = AUTHENTICATED
        if ace_ids:
            parameters["ace_ids"] = ace_ids
        return statement, parameters

    @staticmethod
    def _build(
        with_principals: bool, with_aces: bool, key_condition: Any, page_branches: list[Any]
    ) -> Any:
        text, stamp = sa.Text, sa.BigInteger
        branches = []
        if key_condition is not None:
            branches.append(
                sa.select(
                    kind_column(OBJECT),
                    objects.c.resource_name,
                    objects.c.parent_id,
                    objects.c.id,
                    objects.c.last_modified,
                    objects.c.data,
                    nothing(stamp),
                ).where(sa.not_(objects.c.deleted), key_condition)
            )
        branches.extend(page_branches)
        if with_aces:
            branches.append(
                sa.select(
                    kind_column(ACE),
                    aces.c.object_id,
                    aces.c.permission,
                    aces.c.principal,
                    nothing(stamp),
                    nothing(Document),
                    nothing(stamp),
                ).where(aces.c.object_id.in_(sa.bindparam("ace_ids", expanding=True, type_=text)))
            )
        if with_principals:
            user_ids = [
                sa.bindparam("user_id", type_=text),
                sa.bindparam("authenticated", type_=text),
            ]
            branches.append(
                sa.select(
                    kind_column(PRINCIPAL),
                    members.c.principal,
                    nothing(text),
                    nothing(text),
                    nothing(stamp),
                    nothing(Document),
                    nothing(stamp),
                ).where(members.c.user_id.in_(user_ids))
            )
        if len(branches) == 1:
            return branches[0]
        return sa.union_all(*branches)

    def _remember(
        self,
        participant: SQLParticipant,
        rows: Any,
        user_id: str | None,
        ace_ids: list[str],
        keys: list[ObjectKey],
        page: PageQuery | None,
    ) -> None:
        principals: set[str] = set()
        found_aces: list[tuple[str, str, str]] = []
        found_objects: list[tuple[ObjectKey, int, dict[str, Any]]] = []
        page_rows: list[tuple[int, bool, str, int, dict[str, Any]]] = []
        timestamp = None
        for kind, first, second, third, number, document, position in rows:
            if kind == OBJECT:
                found_objects.append(((first, second, third), number, document))
            elif kind == PAGE:
                page_rows.append((position, first == TOMBSTONE, third, number, document))
            elif kind == ACE:
                found_aces.append((first, second, third))
            elif kind == PRINCIPAL:
                principals.add(first)
            elif kind == TIMESTAMP and number is not None:
                timestamp = number if timestamp is None else max(timestamp, number)
        if user_id is not None:
            self._permission.remember_principals(participant, user_id, principals)
        if ace_ids:
            self._permission.remember_aces(participant, ace_ids, found_aces)
        if keys:
            self._storage.remember_objects(participant, keys, found_objects)
        if page is not None and timestamp is not None:
            # A list never written has no timestamp yet: the request gives it one.
            page_rows.sort(key=lambda row: row[0])
            self._storage.remember_page(participant, page, timestamp, page_rows)
