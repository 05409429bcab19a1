"""Request logging as Kinto does it: mozlog JSON, request ids, a summary line per request.

Inis written for Kinto name ``kinto.core.JsonLogFormatter`` (mozlog JSON through the
``dockerflow`` package), ``kinto.core.StreamHandlerWithRequestID`` (adds the request
id, ``rid``, to every record logged while a request is served) and
``logging_color_formatter.ColorFormatter``; the first two are defined here and
re-exported by the :mod:`kinto.core` compatibility package.

Every request (batch sub-requests aside) ends with one ``request.summary`` record
at INFO carrying Kinto's fields: ``method``, ``path``, ``querystring``, ``code``,
``errno``, ``t`` (milliseconds), ``time``, ``rid``, ``agent``, ``lang``, ``uid`` and
``authn_type``.  The request id is the client's ``X-Request-Id`` when it is a short
token, a new UUID otherwise, and is sent back in the ``X-Request-Id`` response header.
Headers and bodies are never logged (Kinto logs them at DEBUG, passwords included).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dockerflow import logging as dockerflow_logging
from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.storage.generators import uuid4_text

Handler = Callable[[Request], Response]

summary_logger = logging.getLogger("request.summary")

REQUEST_ID_HEADER = "X-Request-Id"
# Ids chosen by clients end up in log lines and headers: tokens only, bounded.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class JsonLogFormatter(dockerflow_logging.MozlogFormatter):
    """Mozlog JSON lines; ``Logger`` is the project name (``kinto.project_name``)."""

    logger_name = "kinto"

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: str = "%"):
        super().__init__(fmt, datefmt, style)
        # The class attribute is read at each record, so the project name set when
        # the application is built applies to formatters configured before it.
        self.__dict__.pop("logger_name", None)


class StreamHandlerWithRequestID(logging.StreamHandler):
    """A stream handler adding ``rid`` to records (fileConfig cannot declare filters)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.addFilter(dockerflow_logging.RequestIdLogFilter())


def request_id(request: Request) -> str:
    given = request.environ.get("HTTP_X_REQUEST_ID", "")
    if VALID_REQUEST_ID.fullmatch(given):
        return given
    return uuid4_text()


def log_context(request: Request, **fields: Any) -> dict[str, Any]:
    """Add fields to the request's summary line (Kinto's ``request.log_context``)."""
    context = request.__dict__.setdefault("_log_context", {})
    context.update({name: value for name, value in fields.items() if value is not None})
    return context


def _summary_fields(request: Request, response: Response, started: float) -> dict[str, Any]:
    environ = request.environ
    now = time.time()
    fields: dict[str, Any] = {
        "agent": environ.get("HTTP_USER_AGENT"),
        "path": environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
        "method": request.method,
        "lang": environ.get("HTTP_ACCEPT_LANGUAGE"),
        "errno": getattr(response, "errno", 0),
        "time": datetime.fromtimestamp(now).isoformat(),
        "code": response.status_code,
        "t": int((time.perf_counter() - started) * 1000),
    }
    if environ.get("QUERY_STRING"):
        try:
            fields["querystring"] = dict(request.GET)
        except UnicodeDecodeError:
            fields["querystring"] = environ["QUERY_STRING"]
    # Only when the request was authenticated already: logging must not authenticate.
    userid = request.__dict__.get("prefixed_userid")
    if userid:
        fields["authn_type"], _, fields["uid"] = userid.partition(":")
    fields.update(request.__dict__.get("_log_context", ()))
    return {name: value for name, value in fields.items() if value is not None}


def request_logging_tween_factory(handler: Handler, registry: Registry) -> Handler:
    def request_logging_tween(request: Request) -> Response:
        started = time.perf_counter()
        rid = request_id(request)
        token = dockerflow_logging.request_id_context.set(rid)
        try:
            response = handler(request)
            response.headers[REQUEST_ID_HEADER] = rid
            if summary_logger.isEnabledFor(logging.INFO) and not hasattr(request, "parent"):
                extra = _summary_fields(request, response, started)
                extra["rid"] = rid
                summary_logger.info("", extra=extra)
            return response
        finally:
            dockerflow_logging.request_id_context.reset(token)

    return request_logging_tween


def includeme(config: Configurator) -> None:
    JsonLogFormatter.logger_name = config.get_settings()["project_name"]
    config.add_request_method(log_context)
    config.add_tween("kinto_clone.core.logs.request_logging_tween_factory")
