"""The JSON renderer of every view: Cornice's, minus its per-request negotiation.

Cornice picks the response type among ``application/json`` and ``text/plain``
by parsing both offers and the ``Accept`` header on every response.  Clients
nearly always accept JSON outright (no header, ``*/*`` or ``application/json``);
for them the answer is known in advance, and anything else still goes through
Cornice's negotiation.  Both paths encode as Kinto does, with
:mod:`kinto_clone.core.json_encoding` (orjson underneath).
"""

from __future__ import annotations

from typing import Any

from cornice.renderer import CorniceRenderer
from pyramid.config import Configurator

from kinto_clone.core.json_encoding import dumps, dumps_bytes

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
        return dumps_bytes(value, default=self._make_default(request))


def includeme(config: Configurator) -> None:
    """Replace Cornice's renderer under the name its services use."""
    config.add_renderer("cornicejson", JSONRenderer(serializer=dumps))
