"""A :class:`~kinto_clone.core.prefetch.ReadPlan` read in one statement.

The storage and permission backends on one database share a connection (see
:mod:`.session`), so the reads of a plan can be one ``UNION ALL``: one branch
per kind of row (principals, access control entries, objects, the list's
timestamp), each tagged with its kind.  The rows are then handed to the
backends' transaction memos, where their usual calls find them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kinto_clone.core.prefetch import ReadPlan
from kinto_clone.core.settings import AUTHENTICATED
from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.sql.session import SQLParticipant, participate
from kinto_clone.core.sql.tables import Document, objects
from kinto_clone.core.sql.tables import access_control_entries as aces
from kinto_clone.core.sql.tables import user_principals as members
from kinto_clone.core.sql.timestamps import CURRENT_PARTS, Group
from kinto_clone.core.storage import ObjectKey

__all__ = ["SQLPrefetcher"]

PRINCIPAL, ACE, OBJECT, TIMESTAMP = "p", "a", "o", "t"
NO_TEXT = sa.cast(sa.null(), sa.Text)
NO_NUMBER = sa.cast(sa.null(), sa.BigInteger)
NO_DOCUMENT = sa.cast(sa.null(), Document)


def _kind(tag: str) -> sa.ColumnElement[str]:
    # A literal column, not a bound value: prebuilt statements embed no value.
    return sa.literal_column(f"'{tag}'", sa.Text).label("kind")


class SQLPrefetcher:
    """Reads plans for one :class:`~.storage.SQLStorage` and one
    :class:`~.permission.SQLPermission` on the same engine.

    Every branch returns ``(kind, text, text, text, integer, document)``.  The
    statement of each shape of plan (which branches, how many keys where the
    dialect needs them written out) is built once and sent as driver SQL.
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
            group = plan.list_timestamp
            if group is not None and self._storage.knows_timestamp(participant, group):
                group = None
            if user_id is None and not ace_ids and not keys and group is None:
                return
            key_condition, parameters = self._storage.keys_condition(keys) if keys else (None, {})
            shape = (user_id is not None, bool(ace_ids), key_condition, group is not None)
            statement = self._statements.get(shape)
            if statement is None:
                statement = self._statements[shape] = self._build(*shape)
            if user_id is not None:
                parameters["user_id"] = user_id
                parameters["authenticated"] = AUTHENTICATED
            if ace_ids:
                parameters["ace_ids"] = ace_ids
            if group is not None:
                parameters["rn"], parameters["pid"] = group
            rows = participant.fetch(statement, parameters)
            self._remember(participant, rows, user_id, ace_ids, keys, group)

    @staticmethod
    def _build(
        with_principals: bool, with_aces: bool, key_condition: Any, with_timestamp: bool
    ) -> Any:
        text = sa.Text
        branches = []
        if key_condition is not None:
            # First: the union's columns take its types (documents decoded).
            branches.append(
                sa.select(
                    _kind(OBJECT),
                    objects.c.resource_name,
                    objects.c.parent_id,
                    objects.c.id,
                    objects.c.last_modified,
                    objects.c.data,
                ).where(sa.not_(objects.c.deleted), key_condition)
            )
        if with_timestamp:
            # The group's row, and its newest object should the row be missing.
            branches.extend(
                sa.select(_kind(TIMESTAMP), NO_TEXT, NO_TEXT, NO_TEXT, part, NO_DOCUMENT)
                for part in CURRENT_PARTS
            )
        if with_aces:
            ace_ids = sa.bindparam("ace_ids", expanding=True, type_=text)
            branches.append(
                sa.select(
                    _kind(ACE),
                    aces.c.object_id,
                    aces.c.permission,
                    aces.c.principal,
                    NO_NUMBER,
                    NO_DOCUMENT,
                ).where(aces.c.object_id.in_(ace_ids))
            )
        if with_principals:
            user_ids = [
                sa.bindparam("user_id", type_=text),
                sa.bindparam("authenticated", type_=text),
            ]
            branches.append(
                sa.select(
                    _kind(PRINCIPAL), members.c.principal, NO_TEXT, NO_TEXT, NO_NUMBER, NO_DOCUMENT
                ).where(members.c.user_id.in_(user_ids))
            )
        return branches[0] if len(branches) == 1 else sa.union_all(*branches)

    def _remember(
        self,
        participant: SQLParticipant,
        rows: Any,
        user_id: str | None,
        ace_ids: list[str],
        keys: list[ObjectKey],
        group: Group | None,
    ) -> None:
        principals: set[str] = set()
        found_aces: list[tuple[str, str, str]] = []
        found_objects: list[tuple[ObjectKey, int, dict[str, Any]]] = []
        timestamps: list[int] = []
        for kind, first, second, third, number, document in rows:
            if kind == OBJECT:
                found_objects.append(((first, second, third), number, document))
            elif kind == ACE:
                found_aces.append((first, second, third))
            elif kind == PRINCIPAL:
                principals.add(first)
            elif kind == TIMESTAMP and number is not None:
                timestamps.append(number)
        if user_id is not None:
            self._permission.remember_principals(participant, user_id, principals)
        if ace_ids:
            self._permission.remember_aces(participant, ace_ids, found_aces)
        if keys:
            self._storage.remember_objects(participant, keys, found_objects)
        # A list never written has no timestamp yet: the request gives it one.
        if group is not None and timestamps:
            self._storage.remember_timestamp(participant, group, max(timestamps))
