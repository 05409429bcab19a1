"""Which file each record points at, and what happens to files at commit or rollback.

*Links.*  Records keep the public URL of their file; the bare location is kept
in the storage backend too, as kinto-attachment does, in the ``attachments``
resource: one link per record, whose id is the record's, grouped by collection
under ``__attachments__/buckets/<b>/collections/<c>``.  Keeping them out of the
bucket's tree means the cascade deleting a bucket or collection (which purges
everything under its URI) leaves them for :mod:`.listeners` to find; grouping
them per collection keeps uploads to different collections from waiting on one
another for the links' timestamps.

*Journal.*  A file is written before the transaction commits, so the record
never points at a file that is not there yet.  :class:`FileJournal` takes part
in the request's transaction: on rollback it deletes the files written during
it; after the commit it deletes the files that stopped being used (replaced or
deleted attachments), never before, so that a failed request loses nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from kinto_clone.core import transaction
from kinto_clone.core.storage import COMPARISON, Filter, StorageBase
from kinto_clone.plugins.attachment.storage import FileStorage

logger = logging.getLogger(__name__)

LINKS = "attachments"
LINKS_ROOT = "__attachments__"


def links_parent(bucket_id: str, collection_id: str = "*") -> str:
    """The group of a collection's links (``*``: every collection of the bucket)."""
    return f"{LINKS_ROOT}/buckets/{bucket_id}/collections/{collection_id}"


class FileJournal:
    """Transaction participant: files to delete on rollback, and after commit."""

    def __init__(self, files: FileStorage) -> None:
        self.files = files
        self.written: list[str] = []
        self.obsolete: list[str] = []

    def commit(self) -> None:
        """Nothing to make durable: files are written already."""

    def abort(self) -> None:
        self._delete(self.written)

    def delete_obsolete(self) -> None:
        self._delete(self.obsolete)

    def _delete(self, locations: list[str]) -> None:
        for location in locations:
            try:
                self.files.delete(location)
            except Exception:
                # An orphan file is harmless; a failed request must still answer.
                logger.exception("Could not delete the attached file %s", location)
        locations.clear()


def journal(files: FileStorage) -> FileJournal:
    """The journal of the current transaction (created, and hooked, on first use)."""
    tx = transaction.current()
    if tx is None:
        raise RuntimeError("attachments are written within a transaction")

    def start() -> FileJournal:
        new = FileJournal(files)
        tx.add_after_commit_hook(new.delete_obsolete)
        return new

    return tx.join(("kinto_clone.attachment.files", id(files)), start)


def get_link(
    storage: StorageBase, bucket_id: str, collection_id: str, record_id: str
) -> dict[str, Any] | None:
    found = storage.get_many(LINKS, links_parent(bucket_id, collection_id), [record_id])
    return found.get(record_id)


def set_link(
    storage: StorageBase, bucket_id: str, collection_id: str, record_id: str, location: str
) -> None:
    bucket_uri = f"/buckets/{bucket_id}"
    collection_uri = f"{bucket_uri}/collections/{collection_id}"
    link = {
        "location": location,
        "bucket_uri": bucket_uri,
        "collection_uri": collection_uri,
        "record_uri": f"{collection_uri}/records/{record_id}",
    }
    storage.update(LINKS, links_parent(bucket_id, collection_id), record_id, link)


def remove_links(
    storage: StorageBase, parent: str, record_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """Delete the links of ``parent`` (a pattern), only of ``record_ids`` if given;
    return them as they were.

    Listed a page at a time (backends cap a list at ``storage_max_fetch_size``),
    and deleted by id within each link's own collection, since two collections
    may hold records of the same id.
    """
    filters = [] if record_ids is None else [Filter("id", record_ids, COMPARISON.IN)]
    removed: list[dict[str, Any]] = []
    while links := storage.list_all(LINKS, parent, filters=filters):
        by_parent: dict[str, list[str]] = {}
        for link in links:
            by_parent.setdefault(LINKS_ROOT + link["collection_uri"], []).append(link["id"])
        for group, ids in by_parent.items():
            by_id = [Filter("id", ids, COMPARISON.IN)]
            storage.delete_all(LINKS, group, filters=by_id, with_deleted=False)
        removed.extend(links)
    return removed
