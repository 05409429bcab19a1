"""A test plugin (``kinto.includes = tests.functional.exploding_plugin``).

Its :class:`ResourceChanged` subscriber raises once the resource has stored
everything, so the request fails half-way and must leave no trace:

* when a created or updated object carries ``"explode": true``;
* when a deleted object carried ``"explode_on_delete": true``.
"""

from __future__ import annotations

from pyramid.config import Configurator

from kinto_clone.core.events import ResourceChanged


class Explosion(RuntimeError):
    """Raised by the subscriber; the server must answer 500 and roll back."""


def explode_on_marked_objects(event: ResourceChanged) -> None:
    deleting = event.payload["action"] == "delete"
    for impacted in event.impacted_objects:
        if deleting and (impacted.get("old") or {}).get("explode_on_delete") is True:
            raise Explosion(event.payload["uri"])
        if not deleting and impacted["new"].get("explode") is True:
            raise Explosion(event.payload["uri"])


def includeme(config: Configurator) -> None:
    config.add_subscriber(explode_on_marked_objects, ResourceChanged)
