"""The single error contract of the HTTP API.

Every error answered by the server is a JSON body ``{code, errno, error, message,
info?, details?}``.  Views and helpers never build such bodies by hand: they raise
the exception returned by :func:`http_error` (or :func:`raise_invalid` for
validation failures), and the exception views in :mod:`kinto_clone.core.views.errors`
turn anything else into the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import IntEnum
from typing import Any

from pyramid import httpexceptions
from pyramid.request import Request

from kinto_clone.core import json_encoding


class ERRORS(IntEnum):
    """Kinto's ``errno`` values; clients switch on these numbers."""

    MISSING_AUTH_TOKEN = 104
    INVALID_AUTH_TOKEN = 105
    BADJSON = 106
    INVALID_PARAMETERS = 107
    MISSING_PARAMETERS = 108
    INVALID_POSTED_DATA = 109
    INVALID_RESOURCE_ID = 110
    MISSING_RESOURCE = 111
    MISSING_CONTENT_LENGTH = 112
    REQUEST_TOO_LARGE = 113
    MODIFIED_MEANWHILE = 114
    METHOD_NOT_ALLOWED = 115
    VERSION_NOT_AVAILABLE = 116
    CLIENT_REACHED_CAPACITY = 117
    FORBIDDEN = 121
    CONSTRAINT_VIOLATED = 122
    UNDEFINED = 999
    BACKEND = 201
    SERVICE_DEPRECATED = 202


def http_error(
    httpexception: httpexceptions.HTTPException,
    errno: int | None = None,
    code: int | None = None,
    error: str | None = None,
    message: str | None = None,
    info: str | None = None,
    details: Any = None,
) -> httpexceptions.HTTPException:
    """Turn a Pyramid HTTP exception into one carrying Kinto's JSON error body.

    The returned object is both a response and an exception: raise it to abort
    the request (and its transaction), or return it from an exception view.
    """
    body: dict[str, Any] = {
        "code": code or httpexception.code,
        "errno": int(errno if errno is not None else ERRORS.UNDEFINED),
        "error": error or httpexception.title,
    }
    if message is not None:
        body["message"] = message
    if info is not None:
        body["info"] = info
    if details is not None:
        body["details"] = details
    response = httpexception
    response.errno = body["errno"]  # For the request summary log line.
    # Kinto sets ``response.json``: WebOb's compact standard-library encoding.
    response.body = json.dumps(body, separators=(",", ":")).encode("utf-8")
    response.content_type = "application/json"
    return response


def json_error_handler(request: Request) -> httpexceptions.HTTPException:
    """Cornice error handler: render collected validation errors as errno 107.

    Cornice calls it with ``request.errors`` filled; the first error (sorted by
    name) gives the message, all of them go in ``details``.
    """
    errors = request.errors
    sorted_errors = sorted(errors, key=lambda e: str(e["name"]))
    for entry in sorted_errors:
        if isinstance(entry["description"], bytes):
            entry["description"] = entry["description"].decode("utf-8", "replace")
    first = sorted_errors[0]
    name, description = first["name"], first["description"]
    if name is None:
        message = f"{first['location']}: {description}"
    elif str(name) in str(description):
        message = str(description)
    else:
        message = f"{name} in {first['location']}: {description}"
    response = http_error(
        httpexceptions.HTTPBadRequest(),
        code=errors.status,
        errno=ERRORS.INVALID_PARAMETERS,
        error="Invalid parameters",
        message=message,
        details=sorted_errors,
    )
    response.status = errors.status
    return response


def raise_invalid(
    request: Request,
    location: str = "body",
    name: str | None = None,
    description: str | None = None,
    **kwargs: Any,
) -> None:
    """Raise a 400 errno 107 naming the offending ``location`` and ``name``."""
    request.errors.add(location, name, description, **kwargs)
    raise json_error_handler(request)


def raise_all_invalid(
    request: Request, errors: Iterable[tuple[str | None, str]], location: str = "body"
) -> None:
    """Raise one 400 errno 107 listing every ``(name, description)`` of ``errors``.

    Kinto reports all the problems of a body at once (``details``), the first
    by name giving the ``message``; nothing is raised when ``errors`` is empty.
    """
    found = False
    for name, description in errors:
        request.errors.add(location, name, description)
        found = True
    if found:
        raise json_error_handler(request)


def send_alert(
    request: Request, message: str, url: str | None = None, code: str = "soft-eol"
) -> None:
    """Attach an ``Alert`` header (deprecations, end of service) to the response."""
    if url is None:
        url = request.registry.settings["project_docs"]
    alert = {"code": code, "message": message, "url": url}
    request.response.headers["Alert"] = json_encoding.dumps(alert)


def request_GET(request: Request) -> Any:
    """``request.GET``, but a querystring that is not UTF-8 is a 400, not a 500.

    Kinto's message, word for word (its missing space included).
    """
    try:
        return request.GET
    except UnicodeError:
        querystring = request.environ.get("QUERY_STRING", "")
        raise http_error(
            httpexceptions.HTTPBadRequest(),
            errno=ERRORS.INVALID_PARAMETERS,
            message="A request with an incorrect encoding in the querystring was"
            f"received. Please make sure your requests are encoded in UTF-8: {querystring}",
        ) from None
