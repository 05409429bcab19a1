"""The Cornice service every endpoint of this project is declared with."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any

import cornice
from pyramid.request import Request

from kinto_clone.core.errors import json_error_handler

CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Response-Behavior",
    "X-Request-Id",
)


def is_allowed_origin(origin: str, allowed: Iterable[str]) -> bool:
    """``kinto.cors_origins`` entries are shell patterns, as in Kinto (``*.example.com``)."""
    return any(fnmatch.fnmatchcase(origin, pattern) for pattern in allowed)


def reject_foreign_origin(request: Request, **kwargs: Any) -> None:
    """A request from an origin ``kinto.cors_origins`` does not allow is a 400, as in Kinto.

    Browsers send ``Origin`` on every cross-origin request, preflights
    included: refusing it here keeps the endpoint from acting for a page it
    would not answer (a simple cross-origin POST is sent without a preflight).
    Like any Cornice validator, it runs after the permission check.
    """
    origin = request.headers.get("Origin")
    if origin and not is_allowed_origin(origin, request.registry.settings["cors_origins"]):
        request.errors.add("header", "Origin", f"{origin} not allowed")


class Service(cornice.Service):
    """Cornice service with Kinto's defaults: JSON errors (errno 107) and CORS.

    Cornice answers preflights and adds CORS headers for every origin; requests
    from origins ``kinto.cors_origins`` does not allow are refused by
    :func:`reject_foreign_origin`, and the headers tween drops their CORS headers.
    """

    def __init__(self, name: str, path: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("cors_origins", ("*",))
        kwargs.setdefault("cors_headers", CORS_REQUEST_HEADERS)
        kwargs.setdefault("error_handler", json_error_handler)
        kwargs["validators"] = (reject_foreign_origin, *kwargs.get("validators", ()))
        super().__init__(name, path, **kwargs)
