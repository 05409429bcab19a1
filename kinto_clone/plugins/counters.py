"""``GET /__counters__``: how many objects and tombstones are stored (``kinto.plugins.counters``).

Public, like in Kinto 26.5.0: it tells how big the server is, nothing about
whose data it holds.  The answer is ``{"objects": {...}, "tombstones": {...}}``
keyed by resource name, each listing only the resources with a non-zero count
(an empty server answers ``{"objects": {}, "tombstones": {}}``).  The storage
backend counts every resource in one query (:meth:`StorageBase.count_by_resource`)
instead of loading what it counts.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core.service import Service

# The resources Kinto 26.5.0 counts, in its order (``attachments`` is the
# kinto-attachment plugin's, counted when a plugin stores some).
COUNTED_RESOURCES = [
    "account",
    "bucket",
    "group",
    "collection",
    "record",
    "history",
    "attachments",
]

counters = Service(name="counters", path="/__counters__", description="Shows objects statistics")


@counters.get()
def counters_get(request: Request) -> dict[str, dict[str, int]]:
    counts = request.registry.storage.count_by_resource(COUNTED_RESOURCES)
    answer: dict[str, dict[str, Any]] = {"objects": {}, "tombstones": {}}
    for name in COUNTED_RESOURCES:
        if counts[name].objects:
            answer["objects"][name] = counts[name].objects
        if counts[name].tombstones:
            answer["tombstones"][name] = counts[name].tombstones
    return answer


def includeme(config: Configurator) -> None:
    config.add_api_capability(
        "counters_endpoint",
        description="The __counters__ endpoint exposes how many objects are stored.",
        url="https://kinto.readthedocs.io/en/latest/api/1.x/counters.html",
    )
    config.add_cornice_service(counters)
