"""Records: the synced data, inside a collection inside a bucket."""

from __future__ import annotations

from kinto_clone.core.resource import Resource
from kinto_clone.core.storage import ObjectKey
from kinto_clone.views import fetch_parents, object_exists_or_404


class Record(Resource):
    name = "record"
    plural_path = "/buckets/{bucket_id}/collections/{collection_id}/records"
    object_path = "/buckets/{bucket_id}/collections/{collection_id}/records/{id}"

    def get_parent_id(self) -> str:
        return (
            f"/buckets/{self.matchdict['bucket_id']}/collections/{self.matchdict['collection_id']}"
        )

    def parent_keys(self) -> list[ObjectKey]:
        bucket_id = self.matchdict["bucket_id"]
        return [
            ("bucket", "", bucket_id),
            ("collection", f"/buckets/{bucket_id}", self.matchdict["collection_id"]),
        ]

    def check_parents_exist(self) -> None:
        bucket, collection = self.parent_keys()
        fetch_parents(self.request, [bucket, collection])  # One query for both.
        object_exists_or_404(self.request, "bucket", bucket[2], "")
        object_exists_or_404(self.request, "collection", collection[2], collection[1])

    def cache_expires_seconds(self) -> int | None:
        """Publishers of public data tune how long anonymous readers cache it,
        per collection (its ``cache_expires`` field) or in the settings.

        As in Kinto 26.5.0: the first setting defined among the per-collection,
        per-bucket, generic and then the two legacy (underscore) keys, raised to
        the collection's ``cache_expires`` when that is larger (a setting of 0
        counts as unset there).  0 answers "expired already" (``max-age=0``,
        ``no-cache``, ``Pragma``), not ``None``'s plain ``no-cache, no-store``.
        """
        bucket_id, collection_id = self.matchdict["bucket_id"], self.matchdict["collection_id"]
        settings = self.request.registry.settings
        keys = (
            f"{bucket_id}.{collection_id}.record_cache_expires_seconds",
            f"{bucket_id}.record_cache_expires_seconds",
            "record_cache_expires_seconds",
            f"{bucket_id}_{collection_id}_record_cache_expires_seconds",
            f"{bucket_id}_record_cache_expires_seconds",
        )
        setting = next((settings[key] for key in keys if settings.get(key) is not None), None)
        seconds = None if setting is None else int(setting)
        # Read by check_parents_exist() before any read answers: no storage call.
        bucket_uri = f"/buckets/{bucket_id}"
        collection = object_exists_or_404(self.request, "collection", collection_id, bucket_uri)
        by_collection = collection.get("cache_expires")
        if by_collection is not None:
            seconds = max(seconds or -1, by_collection)
        return seconds

    def parent_readers_scope(self) -> tuple[str, str]:
        # Bucket readers may list its collections: a missing one is no secret to them.
        return "collection", f"/buckets/{self.matchdict['bucket_id']}/collections"

    def resource_data(self) -> dict[str, str]:
        return {
            "bucket_id": self.matchdict["bucket_id"],
            "collection_id": self.matchdict["collection_id"],
        }


RESOURCE = Record
