"""Files in a folder of the server (``attachment.base_path``).

In production a web server or CDN publishes the folder at ``attachment.base_url``
(see the README); :mod:`..serving` can serve it too.  A file is created with
``O_EXCL``, so two uploads choosing the same name at the same moment never write
into one file.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, BinaryIO

from pyramid.exceptions import ConfigurationError

from kinto_clone.plugins.attachment.storage import MAX_NAME_ATTEMPTS, FileStorage, numbered

COPY_CHUNK = 1024 * 1024


class LocalFileStorage(FileStorage):
    def __init__(self, base_path: str, base_url: str = "") -> None:
        self.root = Path(base_path).resolve()
        self.base_url = base_url

    @classmethod
    def from_settings(cls, settings: dict[str, Any], base_url: str) -> LocalFileStorage:
        base_path = str(settings.get("attachment.base_path") or "").strip()
        if not base_path:
            raise ConfigurationError("attachment.base_path is empty")
        return cls(base_path, base_url)

    def path(self, location: str) -> Path:
        """The file of ``location``; ``ValueError`` for one outside the folder."""
        path = (self.root / location).resolve()
        if path == self.root or not path.is_relative_to(self.root):
            raise ValueError(f"{location!r} is outside of attachment.base_path")
        return path

    def save(self, source: BinaryIO, location: str, content_type: str) -> str:
        for attempt in range(MAX_NAME_ATTEMPTS):
            candidate = numbered(location, attempt)
            path = self.path(candidate)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                destination = path.open("xb")
            except FileExistsError:
                continue
            try:
                with destination:
                    shutil.copyfileobj(source, destination, COPY_CHUNK)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            return candidate
        raise FileExistsError(f"no free name for {location!r} in {self.root}")

    def delete(self, location: str) -> None:
        self.path(location).unlink(missing_ok=True)

    def exists(self, location: str) -> bool:
        return self.path(location).is_file()
