"""Records: the synced data, inside a collection inside a bucket."""

from __future__ import annotations

from kinto_clone.core.resource import Resource
from kinto_clone.views import fetch_parents, object_exists_or_404


class Record(Resource):
    name = "record"
    plural_path = "/buckets/{bucket_id}/collections/{collection_id}/records"
    object_path = "/buckets/{bucket_id}/collections/{collection_id}/records/{id}"

    def get_parent_id(self) -> str:
        return (
            f"/buckets/{self.matchdict['bucket_id']}/collections/{self.matchdict['collection_id']}"
        )

    def check_parents_exist(self) -> None:
        bucket_id = self.matchdict["bucket_id"]
        bucket = ("bucket", "", bucket_id)
        collection = ("collection", f"/buckets/{bucket_id}", self.matchdict["collection_id"])
        fetch_parents(self.request, [bucket, collection])  # One query for both.
        object_exists_or_404(self.request, "bucket", bucket_id, "")
        object_exists_or_404(self.request, "collection", collection[2], collection[1])

    def parent_readers_scope(self) -> tuple[str, str]:
        # Bucket readers may list its collections: a missing one is no secret to them.
        return "collection", f"/buckets/{self.matchdict['bucket_id']}/collections"

    def resource_data(self) -> dict[str, str]:
        return {
            "bucket_id": self.matchdict["bucket_id"],
            "collection_id": self.matchdict["collection_id"],
        }


RESOURCE = Record
