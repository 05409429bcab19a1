"""Reading an upload: the multipart body streamed to a staged file, never held whole.

Waitress spools a large request body to a temporary file; WebOb's ``request.POST``
would copy it once more, and kinto-attachment then reads the whole file into
memory to hash it.  Here the body is
read in chunks through a push parser (python-multipart): the attached file goes
to an anonymous temporary file while its SHA-256 and size are computed, gzipped
on the way when the collection wants it, and the upload stops at the first byte
past the size limit.  Other fields (``data``, ``permissions``) are small JSON
texts kept in memory, up to :data:`MAX_FIELD_BYTES`.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any

from pyramid import httpexceptions
from pyramid.request import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from kinto_clone.core.errors import ERRORS, http_error

READ_CHUNK = 64 * 1024
MAX_FIELD_BYTES = 8 * 1024 * 1024
"""A record's ``data`` or ``permissions`` sent beside the file: far above any real one."""


class FileTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"File size exceeds the limit ({limit} bytes).")
        self.limit = limit


class _HashingWriter:
    """Counts and hashes what goes through it to ``target`` (the gzipped bytes)."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


@dataclass
class StagedFile:
    """The attached file as received, staged in a temporary file."""

    filename: str
    content_type: str | None
    file: IO[bytes]
    gzipped: bool
    max_size: int | None
    size: int = 0
    """Bytes sent by the client (before gzipping)."""
    sha256: Any = field(default_factory=hashlib.sha256)
    _stored: _HashingWriter | None = None
    _gzip: gzip.GzipFile | None = None

    def __post_init__(self) -> None:
        if self.gzipped:
            self._stored = _HashingWriter(self.file)
            # mtime=0: the same content gives the same gzip file, hence the same hash.
            self._gzip = gzip.GzipFile(fileobj=self._stored, mode="wb", mtime=0)  # type: ignore[arg-type]

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.max_size is not None and self.size > self.max_size:
            raise FileTooLarge(self.max_size)
        self.sha256.update(data)
        (self._gzip or self.file).write(data)

    def finish(self) -> None:
        if self._gzip is not None:
            self._gzip.close()
        self.file.flush()
        self.file.seek(0)

    @property
    def stored_size(self) -> int:
        return self._stored.size if self._stored else self.size

    @property
    def stored_hash(self) -> str:
        return (self._stored or self).sha256.hexdigest()


@dataclass
class UploadForm:
    """The fields of a multipart body: texts, the file, and the names sent as files."""

    fields: dict[str, str] = field(default_factory=dict)
    file: StagedFile | None = None
    file_field_without_name: bool = False
    other_files: list[str] = field(default_factory=list)

    def close(self) -> None:
        if self.file is not None:
            self.file.file.close()


def bad_request(message: str, errno: ERRORS = ERRORS.INVALID_POSTED_DATA) -> Exception:
    """A 400 in Kinto's shape; ``errno`` is kinto-attachment's for a bad form field."""
    return http_error(httpexceptions.HTTPBadRequest(), errno=errno, message=message)


def too_large(message: str) -> Exception:
    return http_error(
        httpexceptions.HTTPRequestEntityTooLarge(),
        errno=ERRORS.REQUEST_TOO_LARGE,
        message=message,
    )


class _Reader:
    """python-multipart callbacks filling an :class:`UploadForm`."""

    def __init__(self, file_field: str, gzipped: bool, max_size: int | None) -> None:
        self.form = UploadForm()
        self.file_field = file_field
        self.gzipped = gzipped
        self.max_size = max_size
        self.ended = False
        self._headers: dict[str, str] = {}
        self._header_name = b""
        self._header_value = b""
        self._sink: Any = None
        self._field_name = ""
        self._field_value = bytearray()

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._sink = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        # Latin-1 maps bytes one to one: the file name's UTF-8 bytes come back
        # intact from parse_options_header, to be decoded once.
        self._headers[name] = self._header_value.decode("latin-1").strip()
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get("content-disposition", ""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if filename is None:
            self._field_name = name
            self._field_value = bytearray()
            self._sink = self._field_value
            if name == self.file_field:
                self.form.file_field_without_name = True
            return
        if name == self.file_field and self.form.file is None and filename:
            content_type = self._headers.get("content-type") or None
            self.form.file = StagedFile(
                filename=filename.decode("utf-8", "replace"),
                content_type=content_type,
                # Closed by UploadForm.close(), whatever happens to the request.
                file=tempfile.TemporaryFile(),  # noqa: SIM115
                gzipped=self.gzipped,
                max_size=self.max_size,
            )
            self._sink = self.form.file
        elif name == self.file_field:
            # An empty file name (a form sent without choosing a file) names no
            # file; a second attached file is ignored.
            self.form.file_field_without_name |= self.form.file is None
        else:
            self.form.other_files.append(name)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._sink is self._field_value:
            if len(self._field_value) + end - start > MAX_FIELD_BYTES:
                raise too_large(
                    f"body: field {self._field_name!r} exceeds {MAX_FIELD_BYTES} bytes"
                )
            self._field_value += data[start:end]
        elif self._sink is not None:
            self._sink.write(data[start:end])

    def _part_end(self) -> None:
        if self._sink is self._field_value and self._field_name != self.file_field:
            self.form.fields[self._field_name] = self._field_value.decode("utf-8", "replace")
        elif self._sink is not None and self._sink is not self._field_value:
            self._sink.finish()
        self._sink = None

    def _end(self) -> None:
        self.ended = True


def read_upload(
    request: Request, file_field: str, gzipped: bool, max_size: int | None
) -> UploadForm:
    """Parse the multipart body of ``request``; 400 for a malformed one, 413 past limits."""
    mimetype, params = parse_options_header(request.headers.get("Content-Type", ""))
    boundary = params.get(b"boundary")
    if mimetype != b"multipart/form-data" or not boundary:
        raise bad_request("Content-Type should be multipart/form-data", ERRORS.INVALID_PARAMETERS)
    reader = _Reader(file_field, gzipped, max_size)
    parser = MultipartParser(boundary, reader.callbacks())
    stream = request.body_file
    try:
        while chunk := stream.read(READ_CHUNK):
            parser.write(chunk)
        parser.finalize()
    except FileTooLarge as error:
        reader.form.close()
        raise too_large(str(error)) from None
    except MultipartParseError as error:
        reader.form.close()
        raise bad_request(f"Invalid multipart body: {error}", ERRORS.INVALID_PARAMETERS) from None
    except BaseException:
        reader.form.close()
        raise
    if not reader.ended:
        reader.form.close()
        raise bad_request("Invalid multipart body: it ends early", ERRORS.INVALID_PARAMETERS)
    return reader.form
