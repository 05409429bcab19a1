"""Where attached files are kept: the contract of file storages, and their names.

A storage keeps files under *locations*, paths relative to its root (``blog/
3f1c....png``), and publishes them at ``base_url + location``.  Records store
that full URL; the plugin's link table (:mod:`..links`) keeps the bare
location, so files can be found again to be deleted.

A storage never overwrites: :meth:`FileStorage.save` picks a name nobody uses
yet (``photo.png``, then ``photo-1.png``...).  A failed request deletes the file
it wrote; were an existing file replaced in place, the record still pointing at
it would then point at nothing.  Implementations: :mod:`.local` (a folder, which
a web server or CDN publishes) and :mod:`.s3` (Amazon S3 and compatible APIs).
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import BinaryIO
from urllib.parse import urljoin

from kinto_clone.plugins.attachment.settings import UploadOptions

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
MAX_NAME_ATTEMPTS = 1000


class FileStorage:
    """Interface of file storages; see the module docstring."""

    base_url: str = ""

    def url(self, location: str) -> str:
        return urljoin(self.base_url, location)

    def save(self, source: BinaryIO, location: str, content_type: str) -> str:
        """Copy ``source`` (read from its current position) under ``location``,
        or under a numbered variant of it when taken; return the location used."""
        raise NotImplementedError

    def delete(self, location: str) -> None:
        """Remove the file; a missing file is not an error."""
        raise NotImplementedError

    def exists(self, location: str) -> bool:
        raise NotImplementedError


def numbered(location: str, attempt: int) -> str:
    """``a/b.png`` for attempt 0, then ``a/b-1.png``, ``a/b-2.png``..."""
    if attempt == 0:
        return location
    stem, extension = posixpath.splitext(location)
    return f"{stem}-{attempt}{extension}"


def secure_filename(filename: str) -> str:
    """An ASCII name without folders nor dots around it, safe on any file system."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    for separator in filter(None, (os.path.sep, os.path.altsep, "/", "\\")):
        ascii_name = ascii_name.replace(separator, " ")
    return _UNSAFE.sub("", "_".join(ascii_name.split())).strip("._")


def stored_location(filename: str, options: UploadOptions, folder: str, record_id: str) -> str:
    """The location a new file gets, from its name and the collection's options."""
    name = secure_filename(posixpath.basename(filename.replace("\\", "/")))
    if options.randomize or not name:
        name = str(uuid.uuid4()) + os.path.splitext(name)[1].lower()
    if options.filename_pattern:
        name = options.filename_pattern.format(
            datetime=datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
            rid=secure_filename(record_id),
            filename=name,
        )
    parts = [part for part in folder.split("/") if part and part not in (".", "..")]
    return posixpath.join(*parts, name) if parts else name
