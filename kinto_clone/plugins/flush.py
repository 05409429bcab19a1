"""``POST /__flush__`` empties every backend (``kinto.plugins.flush``).

Meant for test servers (client test suites flush between tests), so it needs no
credentials, by design and as in Kinto.  It answers ``202 {}`` and notifies
:class:`~kinto_clone.core.events.ServerFlushed` for plugins keeping state of
their own.  The three backends are flushed in the request's transaction:
nothing is wiped if the request fails.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core.events import ServerFlushed
from kinto_clone.core.service import Service

flush = Service(name="flush", path="/__flush__", description="Clear database content")


@flush.post()
def flush_post(request: Request) -> dict[str, Any]:
    registry = request.registry
    registry.storage.flush()
    registry.permission.flush()
    registry.cache.flush()
    registry.notify(ServerFlushed(request))
    request.response.status = 202
    return {}


def includeme(config: Configurator) -> None:
    config.add_api_capability(
        "flush_endpoint",
        description="The __flush__ endpoint can be used to remove all data from all backends.",
        url="https://kinto.readthedocs.io/en/latest/api/1.x/flush.html",
    )
    config.add_cornice_service(flush)
