"""Kinto's objects: buckets, collections, groups and records.

Each module is a thin :class:`~kinto_clone.core.resource.Resource` subclass: its
URLs, its ``data`` schema, the parents that must exist and the cascades of its
deletion.  Everything else (permissions, preconditions, lists) is generic.
"""

from __future__ import annotations

from pyramid import httpexceptions
from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core import resource
from kinto_clone.core.errors import ERRORS, http_error
from kinto_clone.core.storage import ObjectNotFoundError


def object_exists_or_404(
    request: Request, resource_name: str, object_id: str, parent_id: str
) -> dict:
    """The parent object, or a 404 errno 111 naming it (``details.id``, ``resource_name``)."""
    generator = request.registry.id_generators.for_type(resource_name)
    cache = request.environ.setdefault("kinto_clone.parents", {})
    key = (resource_name, parent_id, object_id)
    if key in cache:
        return cache[key]
    try:
        if not generator.match(object_id):
            raise ObjectNotFoundError(object_id)
        found = request.registry.storage.get(resource_name, parent_id, object_id)
    except ObjectNotFoundError:
        details = {"id": object_id, "resource_name": resource_name}
        raise http_error(
            httpexceptions.HTTPNotFound(), errno=ERRORS.MISSING_RESOURCE, details=details
        ) from None
    cache[key] = found
    return found


class BucketChild(resource.Resource):
    """Objects stored directly in a bucket (collections, groups)."""

    def get_parent_id(self) -> str:
        return f"/buckets/{self.matchdict['bucket_id']}"

    def check_parents_exist(self) -> None:
        object_exists_or_404(self.request, "bucket", self.matchdict["bucket_id"], "")

    def resource_data(self) -> dict[str, str]:
        return {"bucket_id": self.matchdict["bucket_id"]}


def includeme(config: Configurator) -> None:
    from kinto_clone.views import buckets, collections, groups, records

    for module in (buckets, groups, collections, records):
        resource.register(config, module.RESOURCE)
