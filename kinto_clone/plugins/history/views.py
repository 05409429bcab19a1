"""``/buckets/{bid}/history`` and the collection snapshots built from it.

The history list is a read-only resource: ``GET`` (filtered, sorted, paginated
like any list) and ``DELETE`` (for bucket writers), no object endpoint.  Bucket
readers see every entry; other users see the entries whose explicit ``read`` ACE
names them (see :mod:`~kinto_clone.plugins.history.listener`).

``GET /buckets/{bid}/snapshot/collections/{cid}@{timestamp}`` rebuilds the
records of a collection as they were at ``timestamp``: current records unchanged
since, plus, for those changed after it, their newest history version not after
it (records created later are left out, as are those deleted by then).
"""

from __future__ import annotations

from typing import Any

from pyramid import httpexceptions
from pyramid.request import Request

from kinto_clone.core.errors import ERRORS, http_error, raise_invalid
from kinto_clone.core.resource import Resource
from kinto_clone.core.resource.querystring import ListQuery, parse_timestamp
from kinto_clone.core.resource.strict import check_known_fields
from kinto_clone.core.service import Service
from kinto_clone.core.storage import COMPARISON, Filter, Sort
from kinto_clone.plugins.history.listener import HISTORY

KNOWN_FIELDS = frozenset(
    {
        "id",
        "last_modified",
        "user_id",
        "uri",
        "action",
        "date",
        "resource_name",
        "bucket_id",
        "collection_id",
        "group_id",
        "record_id",
        "target",
    }
)
ID_FIELDS = ("bucket_id", "collection_id", "group_id", "record_id")


def _404_if_invalid_id(request: Request, resource_name: str, object_id: str) -> None:
    """An id the generator would refuse names no object: 404 without a lookup."""
    generator = request.registry.id_generators.for_type(resource_name)
    if not generator.match(object_id):
        details = {"id": object_id, "resource_name": resource_name}
        raise http_error(
            httpexceptions.HTTPNotFound(), errno=ERRORS.MISSING_RESOURCE, details=details
        )


def _as_id(value: Any) -> Any:
    if isinstance(value, list):
        return [_as_id(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


class History(Resource):
    name = HISTORY
    plural_path = "/buckets/{bucket_id}/history"
    object_path = None
    plural_methods = ("GET", "DELETE")

    def get_parent_id(self) -> str:
        return f"/buckets/{self.matchdict['bucket_id']}"

    def check_parents_exist(self) -> None:
        # A deleted bucket's history is purged: only the id's shape is checked.
        _404_if_invalid_id(self.request, "bucket", self.matchdict["bucket_id"])

    def _list_query(self) -> ListQuery:
        query = super()._list_query()
        check_known_fields(self.request, query, KNOWN_FIELDS)
        # ``?record_id=42`` parses as a number, but ids are always strings.
        query.filters = [
            Filter(f.field, _as_id(f.value), f.operator) if f.field in ID_FIELDS else f
            for f in query.filters
        ]
        return query


snapshot = Service(
    name="history_snapshot",
    path="/buckets/{bucket_id}/snapshot/collections/{collection_id}@{timestamp}",
    description="Reconstruct collection at given timestamp",
)


@snapshot.get()
def get_snapshot(request: Request) -> dict[str, list[dict[str, Any]]]:
    bucket_id = request.matchdict["bucket_id"]
    collection_id = request.matchdict["collection_id"]
    raw_timestamp = request.matchdict["timestamp"]
    timestamp = parse_timestamp(raw_timestamp)
    if timestamp is None:
        raise_invalid(
            request,
            location="path",
            name="timestamp",
            description=f"Invalid timestamp {raw_timestamp!r}",
        )
    _404_if_invalid_id(request, "bucket", bucket_id)
    _404_if_invalid_id(request, "collection", collection_id)
    bucket_uri = f"/buckets/{bucket_id}"
    collection_uri = f"{bucket_uri}/collections/{collection_id}"
    registry = request.registry
    readers = [(uri, perm) for uri in (bucket_uri, collection_uri) for perm in ("read", "write")]
    if not registry.permission.check_permission(request.prefixed_principals, readers):
        raise httpexceptions.HTTPForbidden()

    storage = registry.storage
    records = storage.list_all("record", collection_uri, include_deleted=True)
    result = [r for r in records if r["last_modified"] <= timestamp and not r.get("deleted")]
    changed = [r["id"] for r in records if r["last_modified"] > timestamp]
    if changed:
        entries = storage.list_all(
            HISTORY,
            bucket_uri,
            filters=[
                Filter("resource_name", "record", COMPARISON.EQ),
                Filter("collection_id", collection_id, COMPARISON.EQ),
                Filter("record_id", changed, COMPARISON.IN),
                Filter("target.data.last_modified", timestamp, COMPARISON.MAX),
            ],
            sorting=[Sort("last_modified", -1)],
        )
        newest: dict[str, dict[str, Any]] = {}
        for entry in entries:
            newest.setdefault(entry["record_id"], entry["target"]["data"])
        # A deletion before ``timestamp`` means the record did not exist then
        # (Kinto 26.5.0 returns the tombstone).
        result.extend(data for data in newest.values() if not data.get("deleted"))
    return {"data": sorted(result, key=lambda r: r["last_modified"], reverse=True)}
