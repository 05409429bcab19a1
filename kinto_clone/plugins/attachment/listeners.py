"""Files follow their records, and records cannot forge their ``attachment``.

* Deleting records, a collection or a bucket deletes the files attached in them
  (after the commit, unless ``keep_old_files`` applies to their collection).
  Kinto's events carry the deleted records, or the deleted collection or
  bucket whose records went with it; the links (:mod:`.files`) tell the files.
  Unlike kinto-attachment, records deleted through the plural endpoint
  (``DELETE .../records``) lose their files too.
* A record write that changes an existing ``attachment`` field is refused with
  kinto-attachment's error (400, "Attachment metadata cannot be modified."),
  unless the plugin itself makes it.  As there, giving a record without one an
  ``attachment`` field, or dropping the field, is not refused.
"""

from __future__ import annotations

from typing import Any

from kinto_clone.core.errors import ERRORS
from kinto_clone.core.events import ResourceChanged
from kinto_clone.core.resource import Resource
from kinto_clone.plugins.attachment import files
from kinto_clone.plugins.attachment.upload import bad_request
from kinto_clone.plugins.attachment.views import FILE_FIELD, OWN_WRITE


def _uri_ids(uri: str) -> list[str]:
    """``/buckets/b/collections/c`` -> ``["b", "c"]``."""
    return uri.strip("/").split("/")[1::2]


def on_deleted(event: ResourceChanged) -> None:
    request = event.request
    registry = request.registry
    payload = event.payload
    resource_name = payload["resource_name"]
    bucket_id = payload.get("bucket_id")
    if resource_name == "bucket":
        deleted_ids = [change["new"]["id"] for change in event.impacted_objects]
        parents = [files.links_parent(bucket) for bucket in deleted_ids]
        links = [
            link for parent in parents for link in files.remove_links(registry.storage, parent)
        ]
    elif resource_name == "collection":
        deleted_ids = [change["new"]["id"] for change in event.impacted_objects]
        links = [
            link
            for collection in deleted_ids
            for link in files.remove_links(
                registry.storage, files.links_parent(bucket_id, collection)
            )
        ]
    else:
        record_ids = [change["new"]["id"] for change in event.impacted_objects]
        parent = files.links_parent(bucket_id, payload["collection_id"])
        links = files.remove_links(registry.storage, parent, record_ids)
    if not links:
        return
    journal = files.journal(registry.attachment_files)
    settings = registry.attachment_settings
    for link in links:
        link_bucket, link_collection = _uri_ids(link["collection_uri"])
        if not settings.for_collection(link_bucket, link_collection).keep_old_files:
            journal.obsolete.append(link["location"])


def refuse_forged_attachment(
    resource: Resource, new: dict[str, Any], old: dict[str, Any] | None
) -> dict[str, Any]:
    """Object validator: only the plugin changes an existing ``attachment``."""
    if resource.name != "record" or old is None:
        return new
    before, after = old.get(FILE_FIELD), new.get(FILE_FIELD)
    if before and after and before != after and not resource.request.environ.get(OWN_WRITE):
        raise bad_request("Attachment metadata cannot be modified.", ERRORS.UNDEFINED)
    return new
