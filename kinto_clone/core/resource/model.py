"""The model: one resource's objects and their permissions, kept together.

Resources talk to the model, never to the backends directly, so that storing an
object and its access control entries always happen side by side (in one
transaction) and the creator always ends up with ``write``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kinto_clone.core.permission import PermissionBase
from kinto_clone.core.storage import Filter, Sort, StorageBase
from kinto_clone.core.storage.generators import Generator

PERMISSIONS_FIELD = "__permissions__"


class Model:
    id_field = "id"
    modified_field = "last_modified"
    deleted_field = "deleted"
    permissions_field = PERMISSIONS_FIELD

    def __init__(
        self,
        storage: StorageBase,
        permission: PermissionBase,
        id_generator: Generator,
        resource_name: str,
        parent_id: str,
        plural_uri: str,
        principals: list[str] | Callable[[], list[str]],
        current_principal: str | None,
        explicit_permissions: bool = True,
    ) -> None:
        self.storage = storage
        self.permission = permission
        self.id_generator = id_generator
        self.resource_name = resource_name
        self.parent_id = parent_id
        self.plural_uri = plural_uri
        self._principals = principals
        self.current_principal = current_principal
        self.explicit_permissions = explicit_permissions

    @property
    def principals(self) -> list[str]:
        """The caller's principals; given as a function, asked only when needed
        (after the request's reads were prefetched, see :mod:`kinto_clone.core.prefetch`)."""
        principals = self._principals
        return principals() if callable(principals) else principals

    def object_uri(self, object_id: str) -> str:
        return f"{self.plural_uri}/{object_id}"

    def lock_for_write(self) -> None:
        self.storage.lock_for_write(self.resource_name, self.parent_id)

    def checks_versions(self, object_id: str) -> bool:
        return self.storage.checks_versions(self.resource_name, self.parent_id, object_id)

    def expect_version(self, object_id: str, last_modified: int | None) -> None:
        self.storage.expect_version(self.resource_name, self.parent_id, object_id, last_modified)

    def timestamp(self) -> int:
        return self.storage.resource_timestamp(self.resource_name, self.parent_id)

    def get_objects(
        self,
        filters: list[Filter],
        sorting: list[Sort],
        pagination_rules: list[list[Filter]],
        limit: int,
        include_deleted: bool,
    ) -> list[dict[str, Any]]:
        return self.storage.list_all(
            self.resource_name,
            self.parent_id,
            filters=filters,
            sorting=sorting,
            pagination_rules=pagination_rules,
            limit=limit,
            include_deleted=include_deleted,
        )

    def count_objects(self, filters: list[Filter]) -> int:
        return self.storage.count_all(self.resource_name, self.parent_id, filters=filters)

    def delete_objects(
        self,
        filters: list[Filter],
        sorting: list[Sort],
        pagination_rules: list[list[Filter]],
        limit: int,
    ) -> list[dict[str, Any]]:
        deleted = self.storage.delete_all(
            self.resource_name,
            self.parent_id,
            filters=filters,
            sorting=sorting,
            pagination_rules=pagination_rules,
            limit=limit,
        )
        if deleted:
            self.permission.delete_object_permissions(
                *(self.object_uri(obj[self.id_field]) for obj in deleted)
            )
        return deleted

    def get_object(self, object_id: str) -> dict[str, Any]:
        """The stored object (no permissions); raises ``ObjectNotFoundError``."""
        return self.storage.get(self.resource_name, self.parent_id, object_id)

    def annotate(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Attach the object's permissions, shown only to its direct writers."""
        permissions = self.permission.get_object_permissions(self.object_uri(obj[self.id_field]))
        writers = permissions.get("write", set())
        principals = set(self.principals)
        if self.current_principal:
            principals.add(self.current_principal)
        if writers.isdisjoint(principals):
            permissions = {}
        return {**obj, self.permissions_field: permissions}

    def _store_permissions(self, object_id: str, permissions: dict[str, list[str]]) -> None:
        uri = self.object_uri(object_id)
        if permissions:
            self.permission.replace_object_permissions(uri, permissions)
        if self.explicit_permissions and self.current_principal:
            self.permission.add_principal_to_ace(uri, "write", self.current_principal)

    def create_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        permissions = obj.pop(self.permissions_field, {})
        created = self.storage.create(
            self.resource_name, self.parent_id, obj, id_generator=self.id_generator
        )
        self._store_permissions(created[self.id_field], permissions)
        return self.annotate(created)

    def update_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        permissions = obj.pop(self.permissions_field, {})
        updated = self.storage.update(self.resource_name, self.parent_id, obj[self.id_field], obj)
        self._store_permissions(updated[self.id_field], permissions)
        return self.annotate(updated)

    def delete_object(
        self, obj: dict[str, Any], last_modified: int | None = None
    ) -> dict[str, Any]:
        object_id = obj[self.id_field]
        self.permission.delete_object_permissions(self.object_uri(object_id))
        return self.storage.delete(
            self.resource_name, self.parent_id, object_id, last_modified=last_modified
        )
