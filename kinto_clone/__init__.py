"""kinto_clone: a Kinto-compatible JSON storage and sync server.

:func:`main` is the WSGI application factory; the ``kinto`` command
(:mod:`kinto_clone.__main__`) calls it with the settings of an ini file.  The app
is composed in this order: the generic framework (:mod:`kinto_clone.core`),
Kinto's permission inheritance, the plugins of ``kinto.includes`` (they may add
routes that must win over the generic ones, like ``/buckets/default``), then
Kinto's objects (:mod:`kinto_clone.views`), the permissions endpoint (when enabled),
the ``__user_data__`` endpoint and the JSON schemas of collections and buckets
(:mod:`kinto_clone.schema_validation`).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from pyramid.config import Configurator
from pyramid.router import Router

from kinto_clone.core import dotted, multiviews, requests
from kinto_clone.core.settings import InvalidSetting

__all__ = ["main"]

STATSD_PLUGIN = "kinto_clone.plugins.statsd"


def _plugin(name: str) -> Any:
    """The ``includeme`` of a plugin named in ``kinto.includes``."""
    plugin = dotted.resolve_setting("kinto.includes", name)
    if isinstance(plugin, ModuleType):
        plugin = getattr(plugin, "includeme", None)
    if not callable(plugin):
        raise InvalidSetting(
            f"kinto.includes = {name} is not a plugin (it has no includeme function); "
            "correct the name or remove it."
        )
    return plugin


def main(global_config: dict[str, Any] | None = None, **settings: Any) -> Router:
    config = Configurator(settings=settings)
    config.include("kinto_clone.core")
    config.include("kinto_clone.authorization")
    config.include("kinto_clone.core.authorization")
    prefix = config.registry.route_prefix
    settings = config.get_settings()
    plugins = [dotted.canonical_name(plugin) for plugin in settings["includes"]]
    # Kinto's documentation turns StatsD on with ``kinto.statsd_url`` alone.
    if settings["statsd_url"] and STATSD_PLUGIN not in plugins:
        plugins.append(STATSD_PLUGIN)
    for plugin in plugins:
        config.include(_plugin(plugin), route_prefix=prefix)
    config.include("kinto_clone.views", route_prefix=prefix)
    config.include("kinto_clone.views.permissions", route_prefix=prefix)
    config.include("kinto_clone.views.user_data", route_prefix=prefix)
    config.include("kinto_clone.schema_validation")
    config.commit()
    requests.freeze_request_extensions(config.registry)
    multiviews.use_checking_multiviews(config.registry)
    return config.make_wsgi_app()
