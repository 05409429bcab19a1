"""The JSON renderer of every view: Cornice's, minus its per-request negotiation.

Cornice picks the response type among ``application/json`` and ``text/plain``
by parsing both offers and the ``Accept`` header on every response.  Clients
nearly always accept JSON outright (no header, ``*/*`` or ``application/json``);
for them the answer is known in advance, and anything else still goes through
Cornice's negotiation.
"""

from __future__ import annotations

from typing import Any

from cornice.renderer import CorniceRenderer
from pyramid.config import Configurator

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
ACCEPTING_JSON = frozenset({None, "*/*", "application/json"})


class JSONRenderer(CorniceRenderer):
    def render(self, value: Any, system: dict[str, Any]) -> str | bytes:
        request = system.get("request")
        if request is None or request.environ.get("HTTP_ACCEPT") not in ACCEPTING_JSON:
            return super().render(value, system)
        response = request.response
        if response.status_code == 204:
            response.content_type = None
            return b""
        response.headers["Content-Type"] = JSON_CONTENT_TYPE
        body = self.serializer(value, default=self._make_default(request), **self.kw)
        return body.encode("utf-8")


def includeme(config: Configurator) -> None:
    """Replace Cornice's renderer under the name its services use."""
    config.add_renderer("cornicejson", JSONRenderer())
