"""Instrumenting the application once metrics services are registered.

Two parts, both no-ops when no service is registered (see :mod:`kinto_clone.core.metrics`):

* at start-up (``ApplicationCreated``), the public methods of the storage, permission
  and cache backends and of each authentication policy are wrapped with timers, and
  cache reads counted as hits or misses;
* per request, a tween records what Kinto 26.5.0 records on each response.  Labels
  are ``method``, ``endpoint`` (the Cornice service or route name; ``unknown`` for
  a 404 outside any route) and the ``kinto.metrics_matchdict_fields`` of the URL,
  left empty on error responses so random ids of 404s do not become label values.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from pyramid.config import Configurator
from pyramid.events import ApplicationCreated
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.settings import aslist

from kinto_clone.core.metrics import MetricsService, metrics_enabled, watch_execution_time

Handler = Callable[[Request], Response]


def _count_cache_reads(service: MetricsService, cache: Any) -> None:
    """Count ``cache.get`` results as ``cache_hits``/``cache_misses``, whatever the backend."""
    get = cache.get

    def counted_get(key: str) -> Any:
        value = get(key)
        service.count("cache_misses" if value is None else "cache_hits")
        return value

    cache.get = counted_get


def instrument_backends(event: ApplicationCreated) -> None:
    registry = event.app.registry
    if not metrics_enabled(registry):
        return
    service = registry.metrics
    for kind in ("storage", "permission", "cache"):
        watch_execution_time(service, getattr(registry, kind), prefix="backend", classname=kind)
    _count_cache_reads(service, registry.cache)
    for name, policy in registry.authentication.policies:
        watch_execution_time(service, policy, prefix="authentication", classname=name)


def _resource_names(registry: Registry) -> dict[str, str]:
    """``{service name: resource name}`` for the services of generic resources."""
    names = {}
    for service in getattr(registry, "cornice_services", {}).values():
        resource = getattr(service, "resource", None)
        if resource is not None:
            names[service.name] = resource.name
    return names


def _authenticated_userid(request: Request) -> str | None:
    """The prefixed user id when the request carried credentials, without failing.

    Kinto counts users on every response; asking the policies again on a request
    that was refused must not turn its response into an error.
    """
    if "HTTP_AUTHORIZATION" not in request.environ:
        return None
    try:
        return request.prefixed_userid
    except Exception:
        return None


def request_metrics_tween_factory(handler: Handler, registry: Registry) -> Handler:
    if not metrics_enabled(registry):
        return handler
    metrics = registry.metrics
    fields = aslist(registry.settings["metrics_matchdict_fields"])
    resource_names = _resource_names(registry)
    batches = tuple(registry.metrics_batches)

    def request_metrics_tween(request: Request) -> Response:
        for service in batches:
            service.start_batch()
        try:
            return observed(request)
        finally:
            for service in batches:
                service.flush()

    def observed(request: Request) -> Response:
        started = perf_counter()
        response = handler(request)
        duration = perf_counter() - started
        status = response.status_code
        route = request.matched_route
        unrouted = "unknown" if status == 404 else "unnamed"
        endpoint = route.name if route is not None else unrouted
        labels = [("method", request.method.lower()), ("endpoint", endpoint)]
        if fields:
            matchdict = dict(request.matchdict or {}) if status < 400 else {}
            resource_name = resource_names.get(endpoint)
            if resource_name is not None:
                matchdict[f"{resource_name}_id"] = matchdict.get("id", "")
            labels += [(field, str(matchdict.get(field, ""))) for field in fields]
        metrics.count("request_summary", unique=[*labels, ("status", str(status))])
        metrics.timer("request_duration_seconds", value=duration, labels=labels)
        metrics.observe("request_size", response.content_length or 0, labels=labels)
        userid = _authenticated_userid(request)
        if userid:
            policy, _, user = userid.partition(":")
            metrics.count("authentication", unique=[("type", policy)])
            # Colons break StatsD packets (Kinto #1282).
            metrics.count("users", unique=[("auth", policy), ("userid", user.replace(":", "."))])
        return response

    return request_metrics_tween


def includeme(config: Configurator) -> None:
    config.add_subscriber(instrument_backends, ApplicationCreated)
    config.add_tween("kinto_clone.core.request_metrics.request_metrics_tween_factory")
