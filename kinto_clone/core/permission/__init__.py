"""The permission backend contract.

It stores access control entries ``(object_uri, permission) -> {principals}`` and
group membership edges ``user_id -> {principals}``.  Inheritance (a bucket's
``write`` granting its records' ``read``) is *not* its business: callers pass the
already expanded ``bound_permissions`` (see :mod:`kinto_clone.core.authorization`).

Implementations live one per module and expose ``load_from_config(config)``; the
shared contract test suite is :mod:`kinto_clone.core.permission.testing`.
"""

from __future__ import annotations

from collections.abc import Iterable

BoundPermissions = Iterable[tuple[str, str]]
"""Pairs ``(object_uri_or_pattern, permission)``; patterns use ``*``."""


class PermissionBase:
    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def healthcheck(self) -> bool:
        raise NotImplementedError

    def add_user_principal(self, user_id: str, principal: str) -> None:
        raise NotImplementedError

    def remove_user_principal(self, user_id: str, principal: str) -> None:
        raise NotImplementedError

    def remove_principal(self, principal: str) -> None:
        """Remove ``principal`` from every user (a group was deleted).

        It may be a pattern (``/buckets/b/groups/*``), as object ids are in
        :meth:`delete_object_permissions`: a deleted bucket's groups all go at
        once, however many.
        """
        raise NotImplementedError

    def get_user_principals(self, user_id: str) -> set[str]:
        """The principals ``user_id`` holds, plus those held by
        ``system.Authenticated`` (groups listing every authenticated user)."""
        raise NotImplementedError

    def add_principal_to_ace(self, object_id: str, permission: str, principal: str) -> None:
        raise NotImplementedError

    def remove_principal_from_ace(self, object_id: str, permission: str, principal: str) -> None:
        raise NotImplementedError

    def get_object_permission_principals(self, object_id: str, permission: str) -> set[str]:
        raise NotImplementedError

    def get_accessible_objects(
        self,
        principals: Iterable[str],
        bound_permissions: BoundPermissions | None = None,
        with_children: bool = True,
    ) -> dict[str, set[str]]:
        """``{object_uri: {permissions}}`` granted to any of ``principals``.

        Object ids in ``bound_permissions`` may be patterns (``/buckets/*``);
        ``with_children=False`` keeps only URIs with as many segments as the
        pattern.  ``None`` means every object (the permissions endpoint).
        """
        raise NotImplementedError

    def get_authorized_principals(self, bound_permissions: BoundPermissions) -> set[str]:
        """Union of the principals of every ``(object, permission)`` pair."""
        raise NotImplementedError

    def get_object_permissions(
        self, object_id: str, permissions: Iterable[str] | None = None
    ) -> dict[str, set[str]]:
        return self.get_objects_permissions([object_id], permissions)[0]

    def get_objects_permissions(
        self, objects_ids: list[str], permissions: Iterable[str] | None = None
    ) -> list[dict[str, set[str]]]:
        """One ``{permission: principals}`` per id, in order (empty perms omitted)."""
        raise NotImplementedError

    def replace_object_permissions(
        self, object_id: str, permissions: dict[str, Iterable[str]]
    ) -> dict[str, set[str]]:
        """Replace the listed permissions only; an empty list removes one."""
        raise NotImplementedError

    def delete_object_permissions(self, *object_id_list: str) -> None:
        """Drop every ACE of the given objects; ids may be patterns (``/buckets/b/*``)."""
        raise NotImplementedError

    def check_permission(
        self, principals: Iterable[str], bound_permissions: BoundPermissions
    ) -> bool:
        """True when any principal holds any of the bound permissions."""
        if not bound_permissions:
            return False
        authorized = self.get_authorized_principals(bound_permissions)
        return not authorized.isdisjoint(principals)
