"""Permission backend on PostgreSQL or SQLite (see :mod:`kinto_clone.core.permission`).

Object ids given as patterns follow Kinto's PostgreSQL backend: ``*`` matches
any text (a ``LIKE`` on the ``C``-collated id, which the primary key index can
serve for a fixed prefix) and a backslash makes the next character literal, so
that ids ``re.escape``-d by callers still match.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from pyramid.config import Configurator
from sqlalchemy.engine import Engine

from kinto_clone.core.permission import BoundPermissions, PermissionBase
from kinto_clone.core.settings import AUTHENTICATED
from kinto_clone.core.sql import tables
from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.sql.engine import engine_from_config
from kinto_clone.core.sql.schema import Migration, Schema, check_schema, create
from kinto_clone.core.sql.session import SQLParticipant, participate, ping
from kinto_clone.core.sql.tables import access_control_entries as aces
from kinto_clone.core.sql.tables import user_principals as members

__all__ = ["SCHEMA", "SQLPermission", "load_from_config"]

SCHEMA = Schema(
    "permission",
    tables=["access_control_entries", "user_principals"],
    migrations=[
        Migration(
            "create tables access_control_entries and user_principals",
            create(aces, members, tables.aces_by_principal, tables.members_by_principal),
        ),
    ],
)


def like_pattern(pattern: str) -> str | None:
    """The ``LIKE`` pattern (escape ``\\``) of an object id pattern, or ``None``
    when it has no wildcard and names one object."""
    if "*" not in pattern:
        return None
    parts: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "*":
            parts.append("%")
            continue
        if char == "\\":
            char = next(chars, "\\")
        parts.append("\\" + char if char in "%_\\" else char)
    return "".join(parts)


def literal_id(pattern: str) -> str:
    """The object id a pattern without wildcard stands for (escapes removed)."""
    chars = iter(pattern)
    return "".join(next(chars, "\\") if char == "\\" else char for char in chars)


Permissions = dict[str, set[str]]


class SQLPermission(PermissionBase):
    """ACEs as ``(object_id, permission, principal)`` rows, memberships as
    ``(user_id, principal)`` rows.

    The ACEs of an object, once read in a transaction, are kept in the
    participant's ``memo`` (and kept up to date by this transaction's own
    writes): a request checks its permissions on an object and its parents,
    then shows the object's permissions, with one query.
    """

    schema = SCHEMA

    def __init__(self, engine: Engine, dialect: Dialect) -> None:
        self.engine = engine
        self._engine = engine
        self._dialect = dialect
        text = sa.Text
        self._user_principals = sa.select(members.c.principal).where(
            members.c.user_id.in_(
                [sa.bindparam("user_id", type_=text), sa.bindparam("authenticated", type_=text)]
            )
        )
        self._aces_of = sa.select(aces.c.object_id, aces.c.permission, aces.c.principal).where(
            aces.c.object_id.in_(sa.bindparam("object_ids", expanding=True, type_=text))
        )
        added = (
            dialect.insert(aces)
            .values(
                object_id=sa.bindparam("object_id", type_=text),
                permission=sa.bindparam("permission", type_=text),
                principal=sa.bindparam("principal", type_=text),
            )
            .on_conflict_do_nothing()
        )
        self._add = added
        # Sent with the next statement: the write of the object losing its ACEs.
        self._delete_one = sa.delete(aces).where(
            aces.c.object_id == sa.bindparam("object_id", type_=text)
        )
        if dialect.writes_in_common_table_expressions:
            # The insert and the object's other ACEs, in one round trip (the
            # select does not see the row inserted by the same statement).
            self._add_and_read: Any = (
                sa.select(aces.c.permission, aces.c.principal)
                .where(aces.c.object_id == sa.bindparam("object_id", type_=text))
                .add_cte(added.returning(aces.c.object_id).cte("added"))
            )
        else:
            self._add_and_read = None

    def _session(self) -> participate:
        return participate(self._engine, self._dialect)

    @staticmethod
    def _memo(participant: SQLParticipant) -> dict[str, Permissions]:
        known: dict[str, Permissions] = participant.memo.setdefault("aces", {})
        return known

    def _permissions_of(
        self, participant: SQLParticipant, object_ids: Iterable[str]
    ) -> dict[str, Permissions]:
        """Every ACE of the objects (one query for those not read yet)."""
        missing = self.unknown_object_ids(participant, list(object_ids))
        if missing:
            rows = participant.fetch(self._aces_of, {"object_ids": missing})
            self.remember_aces(participant, missing, rows)
        return self._memo(participant)

    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        return self.schema.migrate(self._engine, self._dialect, dry_run=dry_run)

    def healthcheck(self) -> bool:
        return ping(self._engine)

    def flush(self) -> None:
        with self._session() as participant:
            participant.writer()
            participant.execute(sa.delete(aces))
            participant.execute(sa.delete(members))
            self._memo(participant).clear()
            _known_principals(participant).clear()

    # Memberships.

    def add_user_principal(self, user_id: str, principal: str) -> None:
        insert = self._dialect.insert(members).values(user_id=user_id, principal=principal)
        with self._session() as participant:
            participant.writer()
            participant.execute(insert.on_conflict_do_nothing())
            _known_principals(participant).clear()

    def remove_user_principal(self, user_id: str, principal: str) -> None:
        delete = sa.delete(members).where(
            members.c.user_id == user_id, members.c.principal == principal
        )
        with self._session() as participant:
            participant.writer()
            participant.execute(delete)
            _known_principals(participant).clear()

    def remove_principal(self, principal: str) -> None:
        like = like_pattern(principal)
        delete = sa.delete(members).where(
            members.c.principal == principal
            if like is None
            else members.c.principal.like(like, escape="\\")
        )
        with self._session() as participant:
            participant.writer()
            participant.execute(delete)
            _known_principals(participant).clear()

    def get_user_principals(self, user_id: str) -> set[str]:
        parameters = {"user_id": user_id, "authenticated": AUTHENTICATED}
        with self._session() as participant:
            known = _known_principals(participant)
            if user_id not in known:
                rows = participant.fetch(self._user_principals, parameters)
                known[user_id] = {principal for (principal,) in rows}
            return set(known[user_id])

    # Prefetching (kinto_clone.core.prefetch): what a plan read is kept in the
    # transaction's memo, where the methods above look first.

    @staticmethod
    def knows_principals(participant: SQLParticipant, user_id: str) -> bool:
        return user_id in _known_principals(participant)

    @staticmethod
    def remember_principals(participant: SQLParticipant, user_id: str, found: set[str]) -> None:
        _known_principals(participant)[user_id] = found

    def unknown_object_ids(self, participant: SQLParticipant, object_ids: list[str]) -> list[str]:
        known = self._memo(participant)
        return [object_id for object_id in dict.fromkeys(object_ids) if object_id not in known]

    def remember_aces(
        self,
        participant: SQLParticipant,
        object_ids: list[str],
        found: list[tuple[str, str, str]],
    ) -> None:
        """Record the ACEs read of ``object_ids`` (all of them, here or by a prefetch)."""
        known = self._memo(participant)
        known.update({object_id: {} for object_id in object_ids})
        for object_id, permission, principal in found:
            known[object_id].setdefault(permission, set()).add(principal)

    # ACEs.

    def add_principal_to_ace(self, object_id: str, permission: str, principal: str) -> None:
        parameters = {"object_id": object_id, "permission": permission, "principal": principal}
        with self._session() as participant:
            known = self._memo(participant)
            if principal in known.get(object_id, {}).get(permission, ()):
                return  # Already there (the creator's ACE, on every write).
            if object_id in known:
                # Nothing to read back: sent with the next statement or the commit.
                participant.defer_write(self._add, parameters)
            elif self._add_and_read is not None:
                participant.writer()
                rows = participant.fetch(self._add_and_read, parameters)
                known[object_id] = {}
                for other_permission, other_principal in rows:
                    known[object_id].setdefault(other_permission, set()).add(other_principal)
            else:
                participant.writer()
                participant.fetch(self._add, parameters)
            if object_id in known:
                known[object_id].setdefault(permission, set()).add(principal)

    def remove_principal_from_ace(self, object_id: str, permission: str, principal: str) -> None:
        delete = sa.delete(aces).where(
            aces.c.object_id == object_id,
            aces.c.permission == permission,
            aces.c.principal == principal,
        )
        with self._session() as participant:
            participant.writer()
            participant.execute(delete)
            known = self._memo(participant).get(object_id)
            if known is not None and permission in known:
                known[permission].discard(principal)
                if not known[permission]:
                    del known[permission]

    def get_object_permission_principals(self, object_id: str, permission: str) -> set[str]:
        with self._session() as participant:
            found = self._permissions_of(participant, [object_id])[object_id]
        return set(found.get(permission, ()))

    def get_authorized_principals(self, bound_permissions: BoundPermissions) -> set[str]:
        # Exact ids: callers expand inheritance into concrete URIs, and this
        # runs on every request.
        pairs = list(dict.fromkeys(bound_permissions))
        if not pairs:
            return set()
        with self._session() as participant:
            known = self._permissions_of(participant, (object_id for object_id, _ in pairs))
        principals: set[str] = set()
        for object_id, permission in pairs:
            principals.update(known[object_id].get(permission, ()))
        return principals

    def get_accessible_objects(
        self,
        principals: Iterable[str],
        bound_permissions: BoundPermissions | None = None,
        with_children: bool = True,
    ) -> dict[str, set[str]]:
        wanted = list(dict.fromkeys(principals))
        query = sa.select(aces.c.object_id, aces.c.permission).where(aces.c.principal.in_(wanted))
        if bound_permissions is not None:
            bound = list(dict.fromkeys(bound_permissions))
            if not bound:
                return {}
            matches = [
                sa.and_(aces.c.permission == permission, self._matching(pattern, with_children))
                for pattern, permission in bound
            ]
            query = query.where(sa.or_(*matches))
        if not wanted:
            return {}
        result: dict[str, set[str]] = {}
        with self._session() as participant:
            for object_id, permission in participant.execute(query.distinct()):
                result.setdefault(object_id, set()).add(permission)
        return result

    def _matching(self, pattern: str, with_children: bool) -> sa.ColumnElement[bool]:
        like = like_pattern(pattern)
        if like is None:
            return aces.c.object_id == literal_id(pattern)
        matching = aces.c.object_id.like(like, escape="\\")
        if with_children:
            return matching
        # Without children: a wildcard does not cross a ``/``.
        return sa.and_(matching, sa.not_(aces.c.object_id.like(like + "/%", escape="\\")))

    def get_objects_permissions(
        self, objects_ids: list[str], permissions: Iterable[str] | None = None
    ) -> list[dict[str, set[str]]]:
        if not objects_ids:
            return []
        with self._session() as participant:
            known = self._permissions_of(participant, objects_ids)
        wanted = None if permissions is None else set(permissions)
        return [
            {
                permission: set(principals)
                for permission, principals in known[object_id].items()
                if principals and (wanted is None or permission in wanted)
            }
            for object_id in objects_ids
        ]

    def replace_object_permissions(
        self, object_id: str, permissions: dict[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        wanted = {perm: set(principals) for perm, principals in permissions.items()}
        if not wanted:
            return wanted
        rows = [
            {"object_id": object_id, "permission": perm, "principal": principal}
            for perm, principals in wanted.items()
            for principal in principals
        ]
        delete = sa.delete(aces).where(
            aces.c.object_id == object_id, aces.c.permission.in_(list(wanted))
        )
        with self._session() as participant:
            participant.writer()
            participant.execute(delete)
            if rows:
                insert = self._dialect.insert(aces).values(rows)
                participant.execute(insert.on_conflict_do_nothing())
            known = self._memo(participant).get(object_id)
            if known is not None:
                for permission, principals in wanted.items():
                    known[permission] = set(principals)
        return wanted

    def delete_object_permissions(self, *object_id_list: str) -> None:
        if not object_id_list:
            return
        exact = [literal_id(p) for p in object_id_list if like_pattern(p) is None]
        patterns = [like for p in object_id_list if (like := like_pattern(p)) is not None]
        with self._session() as participant:
            if len(exact) == 1 and not patterns:
                participant.defer_write(self._delete_one, {"object_id": exact[0]})
            else:
                doomed = sa.or_(
                    aces.c.object_id.in_(exact),
                    *[aces.c.object_id.like(like, escape="\\") for like in patterns],
                )
                participant.writer()
                participant.execute(sa.delete(aces).where(doomed))
            known = self._memo(participant)
            if patterns:
                known.clear()
            # Known now: these objects have no ACE left.
            known.update({object_id: {} for object_id in exact})


def _known_principals(participant: SQLParticipant) -> dict[str, set[str]]:
    """Group memberships read in this transaction, by user id, until it
    changes any membership."""
    known: dict[str, set[str]] = participant.memo.setdefault("user_principals", {})
    return known


def load_from_config(config: Configurator, dialect: Dialect) -> SQLPermission:
    """Build the permission backend of ``config``'s application on ``dialect``."""
    engine = engine_from_config(config, "permission", dialect)
    check_schema(SCHEMA, engine, dialect, config.get_settings())
    return SQLPermission(engine, dialect)
