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
from kinto_clone.core.storage import ObjectKey


def object_exists_or_404(
    request: Request, resource_name: str, object_id: str, parent_id: str
) -> dict:
    """The parent object, or a 404 errno 111 naming it (``details.id``, ``resource_name``)."""
    key = (resource_name, parent_id, object_id)
    found = fetch_parents(request, [key])[key]
    if found is None:
        details = {"id": object_id, "resource_name": resource_name}
        raise http_error(
            httpexceptions.HTTPNotFound(), errno=ERRORS.MISSING_RESOURCE, details=details
        )
    return found


def fetch_parents(request: Request, keys: list[ObjectKey]) -> dict[ObjectKey, dict | None]:
    """The request's cache of parent objects (``None`` when missing), with
    ``keys`` loaded in one storage call if they were not yet."""
    cache = request.environ.setdefault("kinto_clone.parents", {})
    missing = [key for key in keys if key not in cache]
    if missing:
        id_generators = request.registry.id_generators
        wanted = [key for key in missing if id_generators.for_type(key[0]).match(key[2])]
        found = request.registry.storage.get_by_keys(wanted) if wanted else {}
        for key in missing:
            cache[key] = found.get(key)
    return cache


class BucketChild(resource.Resource):
    """Objects stored directly in a bucket (collections, groups)."""

    def get_parent_id(self) -> str:
        return f"/buckets/{self.matchdict['bucket_id']}"

    def parent_keys(self) -> list[ObjectKey]:
        return [("bucket", "", self.matchdict["bucket_id"])]

    def check_parents_exist(self) -> None:
        object_exists_or_404(self.request, "bucket", self.matchdict["bucket_id"], "")

    def resource_data(self) -> dict[str, str]:
        return {"bucket_id": self.matchdict["bucket_id"]}


def includeme(config: Configurator) -> None:
    from kinto_clone.views import buckets, collections, groups, records

    for module in (buckets, groups, collections, records):
        resource.register(config, module.RESOURCE)
