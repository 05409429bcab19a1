"""Tweens wrapping every request: the transaction and the common response headers."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

from pyramid import httpexceptions
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core import transaction
from kinto_clone.core.errors import ERRORS, http_error
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
    """

    def transaction_tween(request: Request) -> Response:
        with transaction.bound(transaction.Transaction()) as tx:
            try:
                response = handler(request)
            except BaseException:
                tx.abort()
                raise
            if request.exception is not None or response.status_code >= 500:
                tx.abort()
                return response
            try:
                tx.commit()
            except (BackendError, IntegrityError) as error:
                return _commit_failure_response(request, error)
            return response

    return transaction_tween


def headers_tween_factory(handler: Handler, registry: Registry) -> Handler:
    """Security, CORS, back-off and end-of-service headers on every API response.

    Done once here rather than per view, so error responses (raised anywhere)
    carry them too.  Settings are read once, when the app is built.
    """
    settings = registry.settings
    allowed_origins = set(settings["cors_origins"])
    backoff = settings["backoff"]
    backoff_percentage = settings["backoff_percentage"]
    eos_date = settings["eos"]
    eos = None
    if eos_date:
        eos = {
            "deadline": datetime.fromisoformat(str(eos_date)).replace(tzinfo=UTC),
            "message": settings["eos_message"],
            "url": settings["eos_url"],
        }

    def headers_tween(request: Request) -> Response:
        if eos is not None:
            alert = {"code": "soft-eol", "message": eos["message"], "url": eos["url"]}
            if datetime.now(UTC) >= eos["deadline"]:
                alert["code"] = "hard-eol"
                response = http_error(
                    httpexceptions.HTTPGone(),
                    errno=ERRORS.SERVICE_DEPRECATED,
                    message="The service you are trying to connect no longer exists "
                    "at this location.",
                )
            else:
                response = handler(request)
            response.headers["Alert"] = json.dumps(alert)
        else:
            response = handler(request)

        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if backoff is not None and (
            backoff_percentage is None or random.random() * 100 < backoff_percentage
        ):
            headers["Backoff"] = str(backoff)
        if response.content_type == "application/json" and not response.charset:
            response.charset = "UTF-8"
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        origin = request.headers.get("Origin")
        if origin and ("*" in allowed_origins or origin in allowed_origins):
            headers["Access-Control-Allow-Origin"] = origin
        else:
            for name in [h for h in headers if h.lower().startswith("access-control-allow")]:
                del headers[name]
        return response

    return headers_tween
