"""Recording history entries: a ``ResourceChanged`` subscriber.

It runs inside the request's transaction, so an entry exists exactly when the
change it describes was committed.  Each changed bucket, group, collection or
record gets one entry in its bucket's history (storage ``("history",
"/buckets/<bid>")``) holding the object and its permissions as they are after the
change.  The entry's explicit ``read`` ACE lists whoever could read the object
then (readers and writers of the bucket, the collection and the object itself),
so that users who may only read one record see that record's history.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyramid.request import Request

from kinto_clone.core.events import ACTIONS, ResourceChanged
from kinto_clone.core.storage import COMPARISON, Filter

logger = logging.getLogger(__name__)

HISTORY = "history"


@dataclass(frozen=True)
class HistorySettings:
    """The ``kinto.history.*`` settings, parsed once at start-up."""

    exclude_user_ids: frozenset[str]
    exclude_resources: frozenset[str]
    trim_max_count: int
    trim_threshold: int
    trim_user_ids: frozenset[str]

    @property
    def trim_enabled(self) -> bool:
        return self.trim_max_count > 0


@dataclass
class Target:
    """One changed object: where it lives and what it became."""

    uri: str
    bucket_uri: str
    collection_uri: str | None
    data: dict[str, Any]


def bucket_history_uri(bucket_id: str) -> str:
    return f"/buckets/{bucket_id}"


def _object_uri(resource_name: str, obj_id: str, payload: dict[str, Any], bucket_id: str) -> str:
    bucket_uri = bucket_history_uri(bucket_id)
    if resource_name == "bucket":
        return bucket_uri
    if resource_name == "group":
        return f"{bucket_uri}/groups/{obj_id}"
    if resource_name == "collection":
        return f"{bucket_uri}/collections/{obj_id}"
    return f"{bucket_uri}/collections/{payload['collection_id']}/records/{obj_id}"


def _targets(
    payload: dict[str, Any], impacted: Iterable[dict[str, Any]], excluded: frozenset[str]
) -> list[Target]:
    """The objects to record, minus those of excluded buckets, collections, objects.

    Ids come from the payload and the objects, never from the request path
    (plugins may change objects from other URLs).  A merged event may hold
    several buckets, so each target carries its own bucket.
    """
    resource_name = payload["resource_name"]
    targets = []
    for change in impacted:
        data = change["new"]
        obj_id = data["id"]
        bucket_id = obj_id if resource_name == "bucket" else payload["bucket_id"]
        bucket_uri = bucket_history_uri(bucket_id)
        collection_uri = None
        if "collection_id" in payload and resource_name == "record":
            collection_uri = f"{bucket_uri}/collections/{payload['collection_id']}"
        elif resource_name == "collection":
            collection_uri = f"{bucket_uri}/collections/{obj_id}"
        uri = _object_uri(resource_name, obj_id, payload, bucket_id)
        if {bucket_uri, collection_uri, uri} & excluded:
            continue
        targets.append(Target(uri, bucket_uri, collection_uri, data))
    return targets


def purge_bucket_history(request: Request, bucket_uri: str) -> None:
    """Remove a bucket's entries and their ACEs (the bucket is gone)."""
    storage = request.registry.storage
    storage.delete_all(HISTORY, bucket_uri, with_deleted=False)
    storage.purge_deleted(HISTORY, bucket_uri)
    request.registry.permission.delete_object_permissions(f"{bucket_uri}/history/*")


def _trim(request: Request, config: HistorySettings, target: Target, payload: dict) -> None:
    """Keep the newest ``auto_trim_max_count`` entries per resource type (and user).

    Only once ``auto_trim_threshold`` more have accumulated, so that trimming
    (a delete query) happens every so often rather than on every write.
    """
    user_id = payload["user_id"]
    if not config.trim_enabled:
        return
    if config.trim_user_ids and user_id not in config.trim_user_ids:
        return
    filters = [Filter("resource_name", payload["resource_name"], COMPARISON.EQ)]
    if config.trim_user_ids:
        filters.append(Filter("user_id", user_id, COMPARISON.EQ))
    storage = request.registry.storage
    count = storage.count_all(HISTORY, target.bucket_uri, filters=filters)
    if count > config.trim_max_count + config.trim_threshold:
        removed = storage.trim_objects(
            HISTORY, target.bucket_uri, filters=filters, max_objects=config.trim_max_count
        )
        logger.info("Trimmed %s history entries of %s", removed, target.bucket_uri)


def _read_principals(permissions: dict[str, set[str]]) -> set[str]:
    return set(permissions.get("read", ())) | set(permissions.get("write", ()))


def on_resource_changed(event: ResourceChanged) -> None:
    request = event.request
    registry = request.registry
    config: HistorySettings = registry.history_settings
    payload = event.payload
    if payload["user_id"] in config.exclude_user_ids:
        return
    if payload["resource_name"] == "bucket" and payload["action"] == ACTIONS.DELETE.value:
        # The bucket's deletion removed its contents; entries recorded earlier in
        # this request (a batch) go too, and the deletion itself is not kept.
        for change in event.impacted_objects:
            purge_bucket_history(request, bucket_history_uri(change["new"]["id"]))
        return

    targets = _targets(payload, event.impacted_objects, config.exclude_resources)
    if not targets:
        return
    uris = sorted(
        {t.uri for t in targets}
        | {t.bucket_uri for t in targets}
        | {t.collection_uri for t in targets if t.collection_uri}
    )
    permissions = dict(zip(uris, registry.permission.get_objects_permissions(uris), strict=True))
    storage = registry.storage
    attributes = {k: v for k, v in payload.items() if k not in ("timestamp", "bucket_id")}
    id_field = f"{payload['resource_name']}_id"
    for target in targets:
        object_permissions = permissions[target.uri]
        entry = {
            **attributes,
            id_field: target.data["id"],
            "uri": target.uri,
            "date": datetime.now(UTC).isoformat(),
            "target": {
                "data": target.data,
                "permissions": {perm: sorted(p) for perm, p in object_permissions.items()},
            },
        }
        created = storage.create(HISTORY, target.bucket_uri, entry)
        _trim(request, config, target, payload)
        if not registry.settings["explicit_permissions"]:
            # Readers then depend on the bucket's permissions only (Kinto/kinto#893).
            continue
        readers = _read_principals(permissions[target.bucket_uri])
        if target.collection_uri:
            readers |= _read_principals(permissions[target.collection_uri])
        readers |= _read_principals(object_permissions)
        if readers:
            registry.permission.replace_object_permissions(
                f"{target.bucket_uri}/history/{created['id']}", {"read": sorted(readers)}
            )
