"""``POST`` and ``DELETE /buckets/{b}/collections/{c}/records/{id}/attachment``.

As kinto-attachment 9: the POST takes a multipart body with the file in
``attachment`` and, optionally, the record's ``data`` and ``permissions`` as
JSON texts; it stores the file, then creates or updates the record with an
``attachment`` field describing it, and answers that description (``201`` when
the record was created).  DELETE removes the file and sets the field to
``null`` (on a missing record, the record's own ``404``).  Either needs
``write`` on the record, or ``create`` on the collection when the record does
not exist yet, checked before the body is read.

The record is written through a sub-request to the record's own endpoint
(a merge ``PATCH``, or a ``PUT`` when the record is missing), in the request's
transaction: its permissions, preconditions (``If-Match``), JSON schema, events
and history apply unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from pyramid import httpexceptions
from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.errors import raise_invalid
from kinto_clone.core.service import Service
from kinto_clone.plugins.attachment import files
from kinto_clone.plugins.attachment.settings import UploadOptions, mimetype_of
from kinto_clone.plugins.attachment.storage import stored_location
from kinto_clone.plugins.attachment.upload import (
    StagedFile,
    UploadForm,
    bad_request,
    read_upload,
)
from kinto_clone.views.records import Record

RECORD_PATH = "/buckets/{bucket_id}/collections/{collection_id}/records/{id}"
FILE_FIELD = "attachment"
RECORD_FIELDS = ("data", "permissions")
GZIP_MIMETYPE = "application/x-gzip"
OWN_WRITE = "kinto_clone.attachment.own_write"
"""Environ flag of the plugin's own record writes, allowed to change ``attachment``."""

attachment = Service(
    name="attachment",
    path=RECORD_PATH + "/attachment",
    description="Attach a file to a record",
)


class Target:
    """The record an attachment request is about, and its collection's options."""

    def __init__(self, request: Request) -> None:
        self.request = request
        matchdict = request.matchdict
        self.bucket_id = matchdict["bucket_id"]
        self.collection_id = matchdict["collection_id"]
        self.record_id = matchdict["id"]
        self.options: UploadOptions = request.registry.attachment_settings.for_collection(
            self.bucket_id, self.collection_id
        )

    def authorize(self) -> bool:
        """Refuse callers who may not write the record; return whether it exists.

        A read-only server answers 405, as its record endpoints do for writes.
        """
        if self.request.registry.settings["readonly"]:
            raise httpexceptions.HTTPMethodNotAllowed()
        return Record(self.request).authorize_replace() is not None

    @property
    def uri(self) -> str:
        return RECORD_PATH.format(
            bucket_id=self.bucket_id, collection_id=self.collection_id, id=self.record_id
        )

    def folder(self) -> str:
        return self.options.folder.format(
            bucket_id=self.bucket_id, collection_id=self.collection_id, id=self.record_id
        )

    def replace_link(self, location: str | None) -> None:
        """Point the record's link at ``location`` (``None``: no file); the file
        it pointed at goes after the commit, unless ``keep_old_files``."""
        registry = self.request.registry
        ids = (self.bucket_id, self.collection_id, self.record_id)
        collection_uri = f"/buckets/{self.bucket_id}/collections/{self.collection_id}"
        # Until commit, the only writer of the records (taken first, as a record
        # deletion does before its listener reaches the links: no lock cycle)
        # and of the links: a concurrent upload cannot read the same old link,
        # which would leave one of the two files unreferenced forever.
        registry.storage.lock_for_write("record", collection_uri)
        parent = files.links_parent(self.bucket_id, self.collection_id)
        registry.storage.lock_for_write(files.LINKS, parent)
        old = files.get_link(registry.storage, *ids)
        if old is not None and old["location"] != location and not self.options.keep_old_files:
            files.journal(registry.attachment_files).obsolete.append(old["location"])
        if location is not None:
            files.set_link(registry.storage, *ids, location)
        elif old is not None:
            files.remove_links(registry.storage, parent, [self.record_id])


def _record_fields(form: UploadForm) -> dict[str, Any]:
    """``data`` and ``permissions`` of the form, decoded; 400 as kinto-attachment."""
    for name in form.other_files:
        if name in RECORD_FIELDS:
            message = f"body: {name!r} field should be passed as form data, not files"
        else:
            message = f"body: {name!r} not in ('data', 'permissions')"
        raise bad_request(message)
    record: dict[str, Any] = {"data": {}}
    for name, text in form.fields.items():
        if name not in RECORD_FIELDS:
            raise bad_request(f"body: {name!r} not in ('data', 'permissions')")
        try:
            record[name] = json.loads(text)
        except ValueError as error:
            raise bad_request(f"body: {name} is not valid JSON ({error})") from None
    return record


def _store(request: Request, target: Target, staged: StagedFile) -> dict[str, Any]:
    """Write the staged file to the file storage; return its description."""
    mimetype = mimetype_of(staged.filename, target.options.mimetypes, staged.content_type)
    description: dict[str, Any] = {
        "filename": staged.filename,
        "hash": staged.stored_hash,
        "mimetype": mimetype,
        "size": staged.stored_size,
    }
    if staged.gzipped:
        description["original"] = dict(
            description, hash=staged.sha256.hexdigest(), size=staged.size
        )
        description["filename"] = staged.filename + ".gz"
        description["mimetype"] = GZIP_MIMETYPE
    storage = request.registry.attachment_files
    wanted = stored_location(
        description["filename"], target.options, target.folder(), target.record_id
    )
    journal = files.journal(storage)
    location = storage.save(staged.file, wanted, description["mimetype"])
    journal.written.append(location)
    target.replace_link(location)
    return {"location": storage.url(location), **description}


def _write_record(
    request: Request, target: Target, payload: dict[str, Any], methods: tuple[str, ...]
) -> Response:
    """Write ``payload`` to the record through its endpoint, with the first of
    ``methods`` that does not answer 404 (the last one's 404 is the answer)."""
    path = f"/{request.registry.route_prefix}{target.uri}"
    body = json.dumps(payload).encode("utf-8")
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() not in ("content-type", "content-length", "response-behavior")
    }
    headers["Content-Type"] = "application/json"
    for method in methods:
        subrequest = type(request).blank(
            path, base_url=request.application_url, method=method, headers=headers, POST=body
        )
        subrequest.environ[OWN_WRITE] = True
        subrequest.registry = request.registry
        subrequest.parent = request
        try:
            return request.invoke_subrequest(subrequest, use_tweens=False)
        except httpexceptions.HTTPNotFound:
            if method == methods[-1]:
                raise
    raise AssertionError("unreachable")


def _answer(request: Request, record_response: Response) -> Response:
    response = request.response
    if record_response.status_code == 201:
        response.status_code = 201
    for name in ("ETag", "Last-Modified"):
        if name in record_response.headers:
            response.headers[name] = record_response.headers[name]
    return response


@attachment.post()
def attachment_post(request: Request) -> dict[str, Any]:
    target = Target(request)
    exists = target.authorize()
    options = target.options
    form = read_upload(request, FILE_FIELD, options.gzipped, options.max_size)
    try:
        staged = form.file
        if staged is None and form.file_field_without_name:
            raise_invalid(request, location="body", description="Filename is required.")
        if staged is None:
            raise bad_request("Attachment missing.")
        if not options.extension_allowed(staged.filename):
            raise_invalid(request, location="body", description="File extension is not allowed.")
        record = _record_fields(form)
        if not isinstance(record["data"], dict):
            raise_invalid(request, name="data", description="data should be an object")
        description = _store(request, target, staged)
    finally:
        form.close()
    record["data"][FILE_FIELD] = description
    # A record found missing gets a PUT straight away: a PATCH would need the
    # right to read the collection to tell "missing" from "forbidden", which a
    # caller with only ``record:create`` lacks.  A record deleted since it was
    # found gets the PUT after the PATCH's 404.
    methods = ("PATCH", "PUT") if exists else ("PUT",)
    _answer(request, _write_record(request, target, record, methods))
    request.response.headers["Location"] = f"/{request.registry.route_prefix}{target.uri}"
    return description


@attachment.delete()
def attachment_delete(request: Request) -> Response:
    target = Target(request)
    target.authorize()
    target.replace_link(None)
    # A PATCH only: a missing record is the record endpoint's 404, never created.
    record = {"data": {FILE_FIELD: None}}
    response = _answer(request, _write_record(request, target, record, ("PATCH",)))
    response.status_code = 204
    response.headers.pop("Content-Type", None)
    return response
