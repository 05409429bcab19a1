"""Buckets: the top of the tree; deleting one removes everything inside."""

from __future__ import annotations

from typing import Any

from kinto_clone.core.events import ACTIONS
from kinto_clone.core.resource import Resource


class Bucket(Resource):
    name = "bucket"
    plural_path = "/buckets"
    object_path = "/buckets/{id}"
    permissions = ("read", "write", "collection:create", "group:create")

    def on_changed(
        self,
        action: ACTIONS,
        new_objects: list[dict[str, Any]],
        old_objects: list[dict[str, Any] | None],
    ) -> None:
        if action is not ACTIONS.DELETE:
            return
        storage = self.request.registry.storage
        permission = self.request.registry.permission
        for bucket in new_objects:
            uri = f"/buckets/{bucket['id']}"
            for parent in (uri, f"{uri}/*"):
                storage.purge_all(parent)
            permission.delete_object_permissions(f"{uri}/*")
            permission.remove_principal(f"{uri}/groups/*")


RESOURCE = Bucket
