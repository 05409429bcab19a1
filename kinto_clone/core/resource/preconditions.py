"""Conditional requests: ``If-Match`` / ``If-None-Match`` with quoted timestamps.

ETags are the quoted ``last_modified`` of the object (or of the list).  A
stale ``If-Match`` is a 412 errno 114 carrying the current object; a matching
``If-None-Match`` on a read is a 304; ``If-None-Match: *`` means create-only and
``If-Match: *`` means "must exist".
"""

from __future__ import annotations

import functools
from email.utils import formatdate
from typing import Any

from pyramid.httpexceptions import HTTPNotModified, HTTPPreconditionFailed
from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.errors import ERRORS, http_error, raise_invalid
from kinto_clone.core.resource.querystring import parse_timestamp

ANY = "*"


def _parse(request: Request, header: str) -> int | str | None:
    raw = request.headers.get(header)
    if raw is None:
        return None
    value = raw.strip()
    if value == ANY:
        return ANY
    if len(value) >= 2 and value[0] == value[-1] == '"':
        timestamp = parse_timestamp(value[1:-1])
        if timestamp is not None:
            return timestamp
    raise_invalid(
        request,
        location="header",
        name=header,
        description="The value should be integer between double quotes.",
    )
    return None


def conditions(request: Request) -> tuple[int | str | None, int | str | None]:
    """``(if_match, if_none_match)`` parsed once; malformed values are 400."""
    cached = request.environ.get("kinto_clone.preconditions")
    if cached is None:
        cached = (_parse(request, "If-Match"), _parse(request, "If-None-Match"))
        request.environ["kinto_clone.preconditions"] = cached
    return cached


@functools.lru_cache(maxsize=1024)
def _http_date(seconds: int) -> str:
    """Many responses in a row share a second; formatting a date is not free."""
    return formatdate(seconds, usegmt=True)


def add_timestamp_headers(response: Response, timestamp: int) -> None:
    headers = response.headers
    headers["Last-Modified"] = _http_date(timestamp // 1000)
    headers["ETag"] = f'"{timestamp}"'


def raise_304_if_not_modified(request: Request, current_timestamp: int) -> None:
    _, if_none_match = conditions(request)
    if isinstance(if_none_match, int) and if_none_match == current_timestamp:
        response = HTTPNotModified()
        add_timestamp_headers(response, current_timestamp)
        raise response


def raise_412_if_modified(
    request: Request, obj: dict[str, Any] | None, current_timestamp: int
) -> None:
    """Check preconditions against ``obj`` (``None`` when it does not exist).

    Plural endpoints pass ``{}``: a list always exists.
    """
    if_match, if_none_match = conditions(request)
    exists = obj is not None
    if (if_none_match == ANY and exists) or (if_match is not None and not exists):
        failed = True
    elif isinstance(if_match, int):
        failed = if_match != current_timestamp
    else:
        failed = False
    if not failed:
        return
    # Kinto omits ``details`` when there is no current object to show (a
    # missing object, or a list); clients test for ``details.existing``.
    details = {"existing": obj} if obj else None
    response = http_error(
        HTTPPreconditionFailed(),
        errno=ERRORS.MODIFIED_MEANWHILE,
        message="Resource was modified meanwhile",
        details=details,
    )
    add_timestamp_headers(response, current_timestamp)
    raise response
