"""Collections: hold records; deleting one removes its records, tombstones included."""

from __future__ import annotations

from typing import Any

import colander

from kinto_clone.core.events import ACTIONS
from kinto_clone.core.resource import ObjectSchema
from kinto_clone.views import BucketChild


class CollectionSchema(ObjectSchema):
    schema = colander.SchemaNode(colander.Mapping(unknown="preserve"), missing=colander.drop)
    cache_expires = colander.SchemaNode(colander.Int(), missing=colander.drop)


class Collection(BucketChild):
    name = "collection"
    plural_path = "/buckets/{bucket_id}/collections"
    object_path = "/buckets/{bucket_id}/collections/{id}"
    permissions = ("read", "write", "record:create")
    schema = CollectionSchema

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
        for collection in new_objects:
            uri = f"{self.get_parent_id()}/collections/{collection['id']}"
            storage.purge_all(uri)
            permission.delete_object_permissions(f"{uri}/*")


RESOURCE = Collection
