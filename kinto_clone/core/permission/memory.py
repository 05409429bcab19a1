"""Permission backend kept in process memory, for development and tests.

Enable with ``kinto.permission_backend = kinto_clone.core.permission.memory``.

Unlike Kinto's memory backend, writes take part in the request transaction: each
elementary change records its inverse in the shared :class:`UndoJournal`, so a
failed request leaves no permission behind (and other threads never see it).

Object ids given as patterns follow the PostgreSQL backend: ``*`` matches any run
of characters and a backslash makes the next character literal.  The latter keeps
callers that ``re.escape`` ids (as Kinto's authorization policy does) working.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

from pyramid.config import Configurator

from kinto_clone.core import transaction
from kinto_clone.core.permission import BoundPermissions, PermissionBase
from kinto_clone.core.settings import AUTHENTICATED
from kinto_clone.core.transaction import UndoJournal, shared_memory_lock

_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _compile(pattern: str, with_children: bool) -> re.Pattern[str]:
    """Turn an object id pattern into an anchored regular expression.

    Without children a wildcard stops at ``/``, so ``/buckets/*`` keeps
    ``/buckets/a`` but not ``/buckets/a/collections/c``.
    """
    wildcard = ".*" if with_children else "[^/]*"
    parts: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "*":
            parts.append(wildcard)
        elif char == "\\":
            parts.append(re.escape(next(chars, "\\")))
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def _literal(pattern: str) -> str | None:
    """The exact object id ``pattern`` denotes, or ``None`` if it has a wildcard.

    Exact ids are the common case (every permission check) and are looked up
    in the index instead of being matched against every object.
    """
    if "*" in pattern:
        return None
    return _ESCAPED.sub(r"\1", pattern) if "\\" in pattern else pattern


class MemoryPermission(PermissionBase):
    """ACEs are indexed twice, by object for the checks made on every request and
    by principal for listing what a user can reach, so neither scans every ACE."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        self._lock = lock if lock is not None else threading.RLock()
        self._aces: dict[str, dict[str, set[str]]] = {}
        self._by_principal: dict[str, set[tuple[str, str]]] = {}
        self._user_principals: dict[str, set[str]] = {}

    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        return []

    def healthcheck(self) -> bool:
        return True

    # Raw mutations, shared by the writes and by their undo actions.  They
    # report whether anything changed, so that only real changes get undone.

    def _add_ace(self, object_id: str, permission: str, principal: str) -> bool:
        principals = self._aces.setdefault(object_id, {}).setdefault(permission, set())
        if principal in principals:
            return False
        principals.add(principal)
        self._by_principal.setdefault(principal, set()).add((object_id, permission))
        return True

    def _remove_ace(self, object_id: str, permission: str, principal: str) -> bool:
        perms = self._aces.get(object_id, {})
        principals = perms.get(permission, set())
        if principal not in principals:
            return False
        principals.discard(principal)
        if not principals:
            del perms[permission]
            if not perms:
                del self._aces[object_id]
        granted = self._by_principal[principal]
        granted.discard((object_id, permission))
        if not granted:
            del self._by_principal[principal]
        return True

    def _add_member(self, user_id: str, principal: str) -> bool:
        principals = self._user_principals.setdefault(user_id, set())
        if principal in principals:
            return False
        principals.add(principal)
        return True

    def _remove_member(self, user_id: str, principal: str) -> bool:
        principals = self._user_principals.get(user_id, set())
        if principal not in principals:
            return False
        principals.discard(principal)
        if not principals:
            del self._user_principals[user_id]
        return True

    # Journaled writes.

    def _write(self, change: Callable[[UndoJournal], None]) -> None:
        """Run ``change`` in the current transaction, holding the shared lock."""
        with transaction.atomic() as tx:
            change(tx.join(self._lock, lambda: UndoJournal(self._lock)))

    def _grant(
        self, journal: UndoJournal, object_id: str, permission: str, principal: str
    ) -> None:
        if self._add_ace(object_id, permission, principal):
            journal.on_abort(lambda: self._remove_ace(object_id, permission, principal))

    def _revoke(
        self, journal: UndoJournal, object_id: str, permission: str, principal: str
    ) -> None:
        if self._remove_ace(object_id, permission, principal):
            journal.on_abort(lambda: self._add_ace(object_id, permission, principal))

    def _join(self, journal: UndoJournal, user_id: str, principal: str) -> None:
        if self._add_member(user_id, principal):
            journal.on_abort(lambda: self._remove_member(user_id, principal))

    def _leave(self, journal: UndoJournal, user_id: str, principal: str) -> None:
        if self._remove_member(user_id, principal):
            journal.on_abort(lambda: self._add_member(user_id, principal))

    def flush(self) -> None:
        def change(journal: UndoJournal) -> None:
            previous = (self._aces, self._by_principal, self._user_principals)
            self._aces, self._by_principal, self._user_principals = {}, {}, {}

            def restore() -> None:
                self._aces, self._by_principal, self._user_principals = previous

            journal.on_abort(restore)

        self._write(change)

    def add_user_principal(self, user_id: str, principal: str) -> None:
        self._write(lambda journal: self._join(journal, user_id, principal))

    def remove_user_principal(self, user_id: str, principal: str) -> None:
        self._write(lambda journal: self._leave(journal, user_id, principal))

    def remove_principal(self, principal: str) -> None:
        def change(journal: UndoJournal) -> None:
            matches: Callable[[str], object] = (
                _compile(principal, with_children=True).match
                if "*" in principal
                else principal.__eq__
            )
            leaving = [
                (user, held_principal)
                for user, held in self._user_principals.items()
                for held_principal in held
                if matches(held_principal)
            ]
            for user_id, held_principal in leaving:
                self._leave(journal, user_id, held_principal)

        self._write(change)

    def add_principal_to_ace(self, object_id: str, permission: str, principal: str) -> None:
        self._write(lambda journal: self._grant(journal, object_id, permission, principal))

    def remove_principal_from_ace(self, object_id: str, permission: str, principal: str) -> None:
        self._write(lambda journal: self._revoke(journal, object_id, permission, principal))

    def replace_object_permissions(
        self, object_id: str, permissions: dict[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        wanted = {perm: set(principals) for perm, principals in permissions.items()}

        def change(journal: UndoJournal) -> None:
            for perm, principals in wanted.items():
                current = self._aces.get(object_id, {}).get(perm, set())
                for principal in current - principals:
                    self._revoke(journal, object_id, perm, principal)
                for principal in principals:
                    self._grant(journal, object_id, perm, principal)

        self._write(change)
        return wanted

    def delete_object_permissions(self, *object_id_list: str) -> None:
        if not object_id_list:
            return

        def change(journal: UndoJournal) -> None:
            for object_id in self._matching_objects(object_id_list):
                for perm, principals in list(self._aces[object_id].items()):
                    for principal in list(principals):
                        self._revoke(journal, object_id, perm, principal)

        self._write(change)

    def _matching_objects(self, patterns: Iterable[str]) -> set[str]:
        found: set[str] = set()
        regexps = []
        for pattern in patterns:
            exact = _literal(pattern)
            if exact is None:
                regexps.append(_compile(pattern, with_children=True))
            elif exact in self._aces:
                found.add(exact)
        if regexps:
            found.update(
                object_id
                for object_id in self._aces
                if any(regexp.match(object_id) for regexp in regexps)
            )
        return found

    # Reads.

    def get_user_principals(self, user_id: str) -> set[str]:
        with self._lock:
            own = self._user_principals.get(user_id, set())
            return own | self._user_principals.get(AUTHENTICATED, set())

    def get_object_permission_principals(self, object_id: str, permission: str) -> set[str]:
        with self._lock:
            return set(self._aces.get(object_id, {}).get(permission, ()))

    def get_authorized_principals(self, bound_permissions: BoundPermissions) -> set[str]:
        # Exact ids only, like the SQL backend: callers expand inheritance into
        # concrete URIs, and this runs on every request.
        authorized: set[str] = set()
        with self._lock:
            for object_id, permission in bound_permissions:
                authorized |= self._aces.get(object_id, {}).get(permission, set())
        return authorized

    def get_accessible_objects(
        self,
        principals: Iterable[str],
        bound_permissions: BoundPermissions | None = None,
        with_children: bool = True,
    ) -> dict[str, set[str]]:
        # Walk the principals' own grants (usually few) rather than every
        # object, as the SQL backend's join does.
        wanted: dict[str, list[re.Pattern[str]]] | None = None
        if bound_permissions is not None:
            wanted = {}
            for pattern, permission in bound_permissions:
                wanted.setdefault(permission, []).append(_compile(pattern, with_children))
            if not wanted:
                return {}
        result: dict[str, set[str]] = {}
        with self._lock:
            for principal in set(principals):
                for object_id, permission in self._by_principal.get(principal, ()):
                    if wanted is not None and not any(
                        regexp.match(object_id) for regexp in wanted.get(permission, ())
                    ):
                        continue
                    result.setdefault(object_id, set()).add(permission)
        return result

    def get_objects_permissions(
        self, objects_ids: list[str], permissions: Iterable[str] | None = None
    ) -> list[dict[str, set[str]]]:
        only = None if permissions is None else set(permissions)
        with self._lock:
            return [
                {
                    perm: set(principals)
                    for perm, principals in self._aces.get(object_id, {}).items()
                    if only is None or perm in only
                }
                for object_id in objects_ids
            ]


def load_from_config(config: Configurator) -> MemoryPermission:
    return MemoryPermission(lock=shared_memory_lock(config.registry))
