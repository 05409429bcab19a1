"""The ``attachment.*`` settings, read once at start-up, and their per-resource forms.

kinto-attachment reads a setting per request from three places, the nearest
winning: ``attachment.resources.<bucket>.<collection>.<name>``, then
``attachment.resources.<bucket>.<name>``, then ``attachment.<name>``.
:class:`AttachmentSettings` resolves that once per collection into an
:class:`UploadOptions`, already typed, so a request never parses strings.

Both spellings of the size limit are accepted: kinto-attachment 9.0.1 reads
``max_size_bytes`` while its README documents ``max_size``.  Its README also
documents a per-resource ``folder`` that its code refuses at start-up; here
every option has both forms.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.settings import asbool

PREFIX = "attachment."
RESOURCES_PREFIX = "attachment.resources."

# Groups of file extensions accepted by ``attachment.extensions`` (kinto-attachment's names).
EXTENSION_GROUPS: dict[str, frozenset[str]] = {
    "documents": frozenset(
        ["pdf", "rtf", "odf", "ods", "gnumeric", "abw", "doc", "docx", "xls", "xlsx"]
    ),
    "text": frozenset({"txt"}),
    "images": frozenset(["jpg", "jpe", "jpeg", "png", "gif", "svg", "bmp", "tiff"]),
    "audio": frozenset(["wav", "mp3", "aac", "ogg", "oga", "flac"]),
    "video": frozenset(["mpeg", "3gp", "avi", "divx", "dvr", "flv", "mp4", "wmv"]),
    "data": frozenset(["csv", "ini", "json", "plist", "xml", "yaml", "yml"]),
    "scripts": frozenset(["js", "php", "pl", "py", "rb", "sh"]),
    "archives": frozenset(["gz", "bz2", "zip", "tar", "tgz", "txz", "7z"]),
    "executables": frozenset(["so", "exe", "dll"]),
}
EXTENSION_GROUPS["default"] = (
    EXTENSION_GROUPS["documents"]
    | EXTENSION_GROUPS["text"]
    | EXTENSION_GROUPS["images"]
    | EXTENSION_GROUPS["data"]
)
EXTENSION_GROUPS["any"] = frozenset()

# Types kinto-attachment assigns whatever the client says.
DEFAULT_MIMETYPES = {".pem": "application/x-pem-file", ".geojson": "application/geojson"}
# The type of a compressed file, by the encoding ``mimetypes`` sees in its name.
COMPRESSED_TYPES = {
    "gzip": "application/x-gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}
UNKNOWN_MIMETYPE = "application/octet-stream"


def mimetype_of(filename: str, configured: Mapping[str, str], declared: str | None = None) -> str:
    """The type a file is described and served with: the configured one for its
    extension, else the one the client declared on upload, else a guess from its
    name.  A compressed file (``.gz``, as ``gzipped`` stores them) is the archive
    it is, not its content, so a download is not decompressed on the way."""
    extension = os.path.splitext(filename)[1]
    if extension in configured:
        return configured[extension]
    if declared:
        return declared
    guessed, encoding = mimetypes.guess_type(filename)
    if encoding is not None:
        return COMPRESSED_TYPES.get(encoding, UNKNOWN_MIMETYPE)
    return guessed or UNKNOWN_MIMETYPE


def parse_extensions(value: str) -> frozenset[str]:
    """``"images+pdf"`` -> the allowed extensions; an empty set allows any."""
    allowed: set[str] = set()
    for group in value.split("+"):
        group = group.strip()
        if group in EXTENSION_GROUPS:
            allowed |= EXTENSION_GROUPS[group]
        else:
            allowed |= {ext.lower().lstrip(".") for ext in group.split()}
    return frozenset(allowed)


def parse_mimetypes(value: str, setting: str) -> dict[str, str]:
    """``".ftl:application/vnd.fluent;.db:application/vnd.sqlite3"`` -> a mapping."""
    mapping = {}
    for entry in filter(None, (part.strip() for part in value.split(";"))):
        extension, sep, mimetype = entry.partition(":")
        if not sep or not extension.strip() or not mimetype.strip():
            raise ConfigurationError(f"{setting}: expected `.ext:type/subtype`, got {entry!r}")
        mapping[extension.strip()] = mimetype.strip()
    return mapping


def _size(value: Any, setting: str) -> int | None:
    try:
        size = int(value)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(f"{setting}: not a number of bytes: {value!r}") from error
    return size if size > 0 else None


@dataclass(frozen=True)
class UploadOptions:
    """What governs the files of one collection."""

    folder: str = ""
    keep_old_files: bool = False
    gzipped: bool = False
    randomize: bool = True
    filename_pattern: str | None = None
    extensions: frozenset[str] = EXTENSION_GROUPS["default"]
    mimetypes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MIMETYPES))
    max_size: int | None = None
    """Bytes of the uploaded file (before gzipping); ``None``: no limit."""

    def extension_allowed(self, filename: str) -> bool:
        if not self.extensions:
            return True
        return os.path.splitext(filename)[1].lstrip(".").lower() in self.extensions


def _option(name: str, value: Any, setting: str) -> dict[str, Any]:
    """The :class:`UploadOptions` field set by one setting."""
    match name:
        case "folder":
            folder = str(value).strip()
            try:
                folder.format(bucket_id="b", collection_id="c", id="r")
            except (KeyError, IndexError, ValueError) as error:
                raise ConfigurationError(
                    f"{setting}: only {{bucket_id}}, {{collection_id}} and {{id}} "
                    f"may be used ({error!r})"
                ) from error
            return {"folder": folder}
        case "keep_old_files" | "gzipped" | "randomize":
            return {name: asbool(value)}
        case "filename_pattern":
            return {"filename_pattern": str(value).strip() or None}
        case "extensions":
            return {"extensions": parse_extensions(str(value))}
        case "mimetypes":
            return {"mimetypes": {**DEFAULT_MIMETYPES, **parse_mimetypes(str(value), setting)}}
        case "max_size" | "max_size_bytes":
            return {"max_size": _size(value, setting)}
    raise ConfigurationError(f"`{name}` is not a supported setting name. Read `{setting}`")


OPTION_NAMES = (
    "folder",
    "keep_old_files",
    "gzipped",
    "randomize",
    "filename_pattern",
    "extensions",
    "mimetypes",
    "max_size",
    "max_size_bytes",
)


class AttachmentSettings:
    """Options of every collection, from the flat settings of the ini."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.defaults = UploadOptions()
        self._overrides: dict[tuple[str, ...], dict[str, Any]] = {}
        # Sorted so that ``max_size_bytes`` (the code's name) wins over ``max_size``.
        for key in sorted(settings):
            if key.startswith(RESOURCES_PREFIX):
                self._add_override(key, settings[key])
            elif key.startswith(PREFIX) and key[len(PREFIX) :] in OPTION_NAMES:
                name = key[len(PREFIX) :]
                self.defaults = replace(self.defaults, **_option(name, settings[key], key))

    def _add_override(self, key: str, value: Any) -> None:
        parts = key[len(RESOURCES_PREFIX) :].split(".")
        if len(parts) not in (2, 3) or not all(parts):
            raise ConfigurationError(f"Configuration rule malformed: `{key}`")
        *resource, name = parts
        self._overrides.setdefault(tuple(resource), {}).update(_option(name, value, key))

    def for_collection(self, bucket_id: str, collection_id: str) -> UploadOptions:
        options = self.defaults
        for resource in ((bucket_id,), (bucket_id, collection_id)):
            if resource in self._overrides:
                options = replace(options, **self._overrides[resource])
        return options


def base_url(settings: dict[str, Any], name: str = "base_url") -> str:
    """A base URL ending with ``/`` (stored locations are relative), or ``""``."""
    url = str(settings.get(PREFIX + name) or "").strip()
    if url and not url.endswith("/"):
        url += "/"
    return url
