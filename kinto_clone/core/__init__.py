"""The reusable server framework: knows HTTP, storage and permissions, not buckets.

:func:`includeme` sets up, in this order: settings, error views, backends, id
generators, authentication, request helpers, tweens and the utility endpoints.
Kinto's own objects (:mod:`kinto_clone.views`) and plugins are included after it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from pyramid.config import Configurator
from pyramid.events import NewRequest

from kinto_clone.core import backends, requests, unsupported_settings
from kinto_clone.core.id_generators import setup_id_generators
from kinto_clone.core.settings import load_settings
from kinto_clone.core.tweens import ResponseHeaders, reject_unusable_request_line

HTTP_API_VERSION = "1.23"


def _project_version(settings: dict[str, Any]) -> str:
    if settings["project_version"]:
        return settings["project_version"]
    try:
        return package_version("kinto-clone")
    except PackageNotFoundError:
        return "0.0.0"


def add_api_capability(
    config: Configurator, identifier: str, description: str = "", url: str = "", **extra: Any
) -> None:
    """Advertise a feature in the ``capabilities`` of ``GET /v1/`` (plugins call this)."""
    capabilities = config.registry.api_capabilities
    if identifier in capabilities:
        raise ValueError(f"The capability {identifier!r} is already registered")
    capabilities[identifier] = {"description": description, "url": url, **extra}


def add_heartbeat(config: Configurator, name: str, check: Any) -> None:
    """Register a ``check(request) -> bool`` shown in ``/__heartbeat__``."""
    config.registry.heartbeats[name] = check


def includeme(config: Configurator) -> None:
    registry = config.registry
    registry.raw_settings = dict(config.get_settings())
    registry.route_prefix = "v1"
    unsupported_settings.check(registry.raw_settings)
    settings = load_settings(registry.raw_settings)
    config.add_settings(settings)
    registry.project_version = _project_version(settings)
    registry.http_api_version = HTTP_API_VERSION
    config.include("kinto_clone.core.sentry")
    registry.api_capabilities = {}
    registry.heartbeats = {}
    registry.hello_user_hooks = []
    registry.object_validators = []

    config.add_directive("add_api_capability", add_api_capability)
    config.add_directive("add_heartbeat", add_heartbeat)
    config.include("kinto_clone.core.metrics")
    config.include("cornice")
    # Cornice registers its own exception views; commit them so ours override.
    config.commit()
    config.include("kinto_clone.core.renderers")
    config.include("kinto_clone.core.views.errors")
    backends.setup_backends(config)
    config.include("kinto_clone.core.prefetch")
    setup_id_generators(config)
    config.include("kinto_clone.core.authentication")
    requests.setup_request_methods(config)
    config.include("kinto_clone.core.events")
    config.include("kinto_clone.core.live")
    config.add_tween("kinto_clone.core.tweens.transaction_tween_factory")
    config.add_tween("kinto_clone.core.tweens.end_of_service_tween_factory")
    config.include("kinto_clone.core.request_metrics")
    config.include("kinto_clone.core.logs")
    config.add_subscriber(ResponseHeaders(settings), NewRequest)
    config.add_subscriber(reject_unusable_request_line, NewRequest)
    config.include("kinto_clone.core.redirects")
    config.include("kinto_clone.core.views.utility", route_prefix=registry.route_prefix)
    config.include("kinto_clone.core.views.batch", route_prefix=registry.route_prefix)
    config.include("kinto_clone.core.views.openapi", route_prefix=registry.route_prefix)
    config.include("kinto_clone.core.listeners")
