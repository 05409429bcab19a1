"""The Cornice service every endpoint of this project is declared with."""

from __future__ import annotations

from typing import Any

import cornice

from kinto_clone.core.errors import json_error_handler

CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Response-Behavior",
    "X-Request-Id",
)


class Service(cornice.Service):
    """Cornice service with Kinto's defaults: JSON errors (errno 107) and CORS.

    Preflight requests are answered by Cornice for every origin; the headers
    tween then drops the CORS headers for origins ``kinto.cors_origins`` rejects.
    """

    def __init__(self, name: str, path: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("cors_origins", ("*",))
        kwargs.setdefault("cors_headers", CORS_REQUEST_HEADERS)
        kwargs.setdefault("error_handler", json_error_handler)
        super().__init__(name, path, **kwargs)
