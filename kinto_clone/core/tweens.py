"""Tweens wrapping every request: the transaction, the common response headers,
and the check every request passes before routing (a usable request line)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

from pyramid import httpexceptions
from pyramid.events import NewRequest
from pyramid.registry import Registry
from pyramid.request import Request, apply_request_extensions
from pyramid.response import Response
from pyramid.threadlocal import RequestContext

from kinto_clone.core import json_encoding, transaction
from kinto_clone.core.errors import ERRORS, http_error, request_GET
from kinto_clone.core.service import is_allowed_origin
from kinto_clone.core.storage import BackendError, IntegrityError

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Response]

CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none';"
EXPOSED_HEADERS = (
    "Alert, Backoff, Cache-Control, Content-Length, Content-Type, ETag, Expires, "
    "Last-Modified, Next-Page, Pragma, Retry-After, Total-Objects, Total-Records"
)


def _commit_failure_response(request: Request, error: Exception) -> Response:
    retry_after = str(request.registry.settings["retry_after_seconds"])
    if isinstance(error, IntegrityError):
        response = http_error(
            httpexceptions.HTTPConflict(),
            errno=ERRORS.CONSTRAINT_VIOLATED,
            message="Integrity constraint violated, please retry.",
        )
    else:
        logger.error("commit failed", exc_info=error)
        response = http_error(
            httpexceptions.HTTPServiceUnavailable(),
            errno=ERRORS.BACKEND,
            message="Service temporary unavailable due to overloading or maintenance, "
            "please retry later.",
        )
    response.headers["Retry-After"] = retry_after
    return response


def transaction_tween_factory(handler: Handler, registry: Registry) -> Handler:
    """One transaction per request: committed on success, aborted on any error.

    Sits above the exception view tween, so errors rendered as responses still
    abort (``request.exception`` is set), and so does any 5xx response.

    A request whose transaction met a :class:`~.transaction.WriteConflict`
    (an object changed between its read and its write) is aborted and run
    again, once, on a copy of the request as it came in, with writers locking
    before they read (:attr:`~.transaction.Transaction.locks_first`): that
    run cannot conflict.  The events of the first run go with its transaction.
    """

    def transaction_tween(request: Request) -> Response:
        # What the request's handling adds to the environ (caches of parents,
        # of the default bucket's creation) must not survive into a re-run.
        pristine = set(request.environ)
        response = _run_in_transaction(request, locks_first=False)
        if response is not None:
            return response
        rerun = _fresh_copy(request, pristine)
        with RequestContext(rerun):
            response = _run_in_transaction(rerun, locks_first=True)
        if response is None:  # A conflict again: no backend locking first has one.
            response = _commit_failure_response(
                rerun, IntegrityError("write conflict under the lock")
            )
        # The router finishes the request it knows with the re-run's callbacks.
        request.response_callbacks = rerun.response_callbacks
        request.finished_callbacks = rerun.finished_callbacks
        request.exception, request.exc_info = rerun.exception, rerun.exc_info
        return response

    def _run_in_transaction(request: Request, locks_first: bool) -> Response | None:
        """The response, or ``None`` when the transaction met a conflict."""
        with transaction.bound(transaction.Transaction()) as tx:
            tx.locks_first = locks_first
            try:
                response = handler(request)
            except transaction.WriteConflict:
                tx.abort()
                return None
            except BaseException:
                tx.abort()
                raise
            if tx.conflicted:
                tx.abort()
                return None
            if request.exception is not None or response.status_code >= 500:
                tx.abort()
                return response
            try:
                tx.commit()
            except (BackendError, IntegrityError) as error:
                return _commit_failure_response(request, error)
            return response

    return transaction_tween


def _fresh_copy(request: Request, pristine: set[str]) -> Request:
    """The request as it came in, for a re-run: its body (read and kept by
    WebOb) and its environ less what its handling added."""
    copy = request.copy()
    for key in set(copy.environ) - pristine:
        if not key.startswith(("webob.", "wsgi.")):
            del copy.environ[key]
    # What the router gives each request it makes.
    copy.registry = request.registry
    copy.invoke_subrequest = request.invoke_subrequest
    apply_request_extensions(copy)
    return copy


class ResponseHeaders:
    """Security, CORS and back-off headers on every API response, errors included.

    Added as a response callback from a ``NewRequest`` subscriber registered after
    Cornice's: Cornice sets its own CORS headers in a callback, ours must run
    last.  Settings are read once, when the app is built.
    """

    def __init__(self, settings: dict) -> None:
        self.allowed_origins = tuple(settings["cors_origins"])
        # Kinto answers ``*`` rather than echoing the origin when every origin
        # is allowed: no credentials are involved, and caches need no ``Vary``.
        self.any_origin = "*" in self.allowed_origins
        max_age = settings["cors_max_age_seconds"]
        # As in Kinto, 0 (or nothing) sends no Access-Control-Max-Age.
        self.preflight_max_age = str(max_age) if max_age else None
        self.backoff = settings["backoff"]
        self.backoff_percentage = settings["backoff_percentage"]

    def __call__(self, event: NewRequest) -> None:
        event.request.add_response_callback(self.apply)

    def apply(self, request: Request, response: Response) -> None:
        # One pass over the raw header list: WebOb's header mapping scans and
        # lower-cases the whole list on every lookup and assignment.
        headerlist = response.headerlist
        present = set()
        for index, (name, value) in enumerate(headerlist):
            lowered = name.lower()
            present.add(lowered)
            if lowered == "content-type" and value == "application/json":
                headerlist[index] = (name, "application/json; charset=UTF-8")
        if "content-security-policy" not in present:
            headerlist.append(("Content-Security-Policy", CSP))
        if "x-content-type-options" not in present:
            headerlist.append(("X-Content-Type-Options", "nosniff"))
        if self.backoff is not None and (
            self.backoff_percentage is None or random.random() * 100 < self.backoff_percentage
        ):
            response.headers["Backoff"] = str(self.backoff)
        if "access-control-expose-headers" in present:
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        else:
            headerlist.append(("Access-Control-Expose-Headers", EXPOSED_HEADERS))
        origin = request.environ.get("HTTP_ORIGIN")
        if origin and is_allowed_origin(origin, self.allowed_origins):
            response.headers["Access-Control-Allow-Origin"] = "*" if self.any_origin else origin
            if (
                self.preflight_max_age is not None
                and request.method == "OPTIONS"
                and "access-control-allow-methods" in present
                and response.status_code == 200
            ):
                # Lets browsers skip the preflight for a while (kinto.cors_max_age_seconds).
                response.headers["Access-Control-Max-Age"] = self.preflight_max_age
        elif any(name.startswith("access-control-allow") for name in present):
            headerlist[:] = [
                (name, value)
                for name, value in headerlist
                if not name.lower().startswith("access-control-allow")
            ]


def reject_unusable_request_line(event: NewRequest) -> None:
    """400 for a path that is not UTF-8 once unescaped (``/v1/buckets/%FF``) or
    that holds a NUL character (``/v1/buckets/b%00``), and for a querystring
    that is not UTF-8, whatever the endpoint.

    Routing, views and logging all read ``request.path``, which raises
    ``UnicodeDecodeError`` for the former; PostgreSQL cannot even compare a
    text with the latter, so no backend holds such an id.  As a ``NewRequest``
    subscriber this runs before routing and authentication, as in Kinto, for
    batch sub-requests too.  Kinto's answer for a path: errno 107 "Invalid URL
    path.", without details (for a NUL, a 403 or a 400 depending on the URL, a
    500 on PostgreSQL).
    """
    request = event.request
    try:
        unusable = "\x00" in request.path_info
    except UnicodeDecodeError:
        unusable = True
    if unusable:
        raise http_error(
            httpexceptions.HTTPBadRequest(),
            errno=ERRORS.INVALID_PARAMETERS,
            message="Invalid URL path.",
        )
    if request.environ.get("QUERY_STRING"):
        request_GET(request)


def end_of_service_tween_factory(handler: Handler, registry: Registry) -> Handler:
    """``Alert`` headers before ``kinto.eos``, then 410 errno 202 once it is past."""
    settings = registry.settings
    if not settings["eos"]:
        return handler
    deadline = datetime.fromisoformat(str(settings["eos"])).replace(tzinfo=UTC)
    message, url = settings["eos_message"], settings["eos_url"]

    def end_of_service_tween(request: Request) -> Response:
        alert = {"code": "soft-eol", "message": message, "url": url}
        if datetime.now(UTC) >= deadline:
            alert["code"] = "hard-eol"
            response = http_error(
                httpexceptions.HTTPGone(),
                errno=ERRORS.SERVICE_DEPRECATED,
                message="The service you are trying to connect no longer exists at this location.",
            )
        else:
            response = handler(request)
        response.headers["Alert"] = json_encoding.dumps(alert)
        return response

    return end_of_service_tween
