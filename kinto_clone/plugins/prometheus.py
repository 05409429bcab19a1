"""Kinto's ``kinto.plugins.prometheus``: metrics served at ``/v1/__metrics__``.

Settings (Kinto 26.5.0's): ``kinto.prometheus_prefix`` (default the project name;
``kinto-prod`` becomes the ``kintoprod_`` name prefix), ``kinto.prometheus_disabled_metrics``
(names, with or without the prefix), ``kinto.prometheus_histogram_buckets`` (default
``0.01 0.05 0.1 0.5 1.0 3.0 6.0 Inf``) and ``kinto.prometheus_created_metrics_enabled``.

With several server processes, set ``PROMETHEUS_MULTIPROC_DIR`` to a directory they
share (``prometheus_client``'s multiprocess mode): each process writes its values
there and ``/__metrics__`` adds them up.  Unlike Kinto, a starting process does not
empty that directory, since it would erase the values of processes already running;
empty it when deploying, as ``prometheus_client`` recommends.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import prometheus_client
from prometheus_client import multiprocess
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.settings import asbool, aslist

from kinto_clone.core.metrics import FunctionTimer, Labels

logger = logging.getLogger(__name__)

DEFAULT_BUCKETS = "0.01 0.05 0.1 0.5 1.0 3.0 6.0 Inf"
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def metric_name(key: str) -> str:
    """Dotted keys as Prometheus names: ``backend.cache.seconds`` -> ``backend_cache_seconds``."""
    return key.replace("-", "_").replace(".", "_").replace(" ", "_")


def clean_prefix(prefix: str) -> str:
    """``kinto-prod`` -> ``kintoprod_``: one word, so dashboards group metrics by it."""
    return (metric_name(prefix).replace("_", "") + "_").lower() if prefix else ""


class _Discard:
    """A disabled metric: observations and increments go nowhere."""

    def observe(self, value: float) -> None:
        pass

    def inc(self, amount: float = 1) -> None:
        pass


class PrometheusService:
    """Kinto's metrics interface over :mod:`prometheus_client` collectors.

    Collectors are created on first use, typed by the method that first used the
    key (``timer``: histogram, ``observe``: summary, ``count``: counter); each
    labelled child is looked up once and then kept, so a repeated measurement
    costs one dictionary read and the observation itself.
    """

    def __init__(
        self,
        registry: prometheus_client.CollectorRegistry,
        prefix: str = "",
        disabled_metrics: list[str] | None = None,
        histogram_buckets: list[float] | None = None,
    ) -> None:
        self.registry = registry
        self.prefix = clean_prefix(prefix)
        self.disabled_metrics = {
            metric_name(name).removeprefix(self.prefix) for name in disabled_metrics or []
        }
        self.histogram_buckets = histogram_buckets
        self._collectors: dict[str, Any] = {}
        self._children: dict[tuple[str, tuple[str, ...]], Any] = {}
        # Creating a collector twice would register its name twice: first uses of a
        # key from several server threads take turns (later uses need no lock).
        self._creating = threading.Lock()

    def _collector(self, kind: type, name: str, labelnames: tuple[str, ...]) -> Any:
        collector = self._collectors.get(name)
        if collector is None:
            options: dict[str, Any] = {"registry": self.registry}
            if kind is prometheus_client.Histogram and self.histogram_buckets:
                options["buckets"] = self.histogram_buckets
            description = f"{kind.__name__} of {name}"
            collector = kind(name, description, labelnames=labelnames, **options)
            self._collectors[name] = collector
        elif not isinstance(collector, kind):
            raise RuntimeError(f"Metric {name} already exists with another type ({collector})")
        return collector

    def _child(self, kind: type, key: str, labels: Labels) -> Any:
        values = tuple(str(value) for _, value in labels)
        cache_key = (key, values)
        child = self._children.get(cache_key)
        if child is None:
            with self._creating:
                child = self._new_child(kind, key, labels, values)
                self._children[cache_key] = child
        return child

    def _new_child(self, kind: type, key: str, labels: Labels, values: tuple[str, ...]) -> Any:
        name = metric_name(key)
        if name in self.disabled_metrics:
            return _Discard()
        labelnames = tuple(metric_name(label) for label, _ in labels)
        collector = self._collector(kind, self.prefix + name, labelnames)
        return collector.labels(*values) if labels else collector

    def timer(self, key: str, value: float | None = None, labels: Labels = ()) -> Any:
        histogram = self._child(prometheus_client.Histogram, key, labels)
        if value is not None:
            histogram.observe(value)
            return None
        return FunctionTimer(histogram.observe)

    def observe(self, key: str, value: float, labels: Labels = ()) -> None:
        self._child(prometheus_client.Summary, key, labels).observe(value)

    def count(self, key: str, count: int = 1, unique: Labels | None = None) -> None:
        self._child(prometheus_client.Counter, key, unique or ()).inc(count)


def exposed_registry(
    own: prometheus_client.CollectorRegistry,
) -> prometheus_client.CollectorRegistry:
    """What ``/__metrics__`` serves: this process's collectors, or in multiprocess
    mode a collector adding up the files every process writes."""
    directory = os.environ.get(MULTIPROCESS_VARIABLE)
    if not directory:
        logger.warning("Prometheus metrics will run in single-process mode only.")
        return own
    os.makedirs(directory, exist_ok=True)
    registry = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return registry


def _buckets(setting: str) -> list[float]:
    try:
        buckets = [float(bound) for bound in aslist(setting)]
    except ValueError as error:
        raise ValueError(f"kinto.prometheus_histogram_buckets = {setting}: {error}") from error
    if not buckets or buckets != sorted(buckets):
        raise ValueError(
            f"kinto.prometheus_histogram_buckets = {setting}: upper bounds in increasing order"
        )
    return buckets


def metrics_view_factory(
    exposed: prometheus_client.CollectorRegistry,
) -> Callable[[Request], Response]:
    def metrics_view(request: Request) -> Response:
        try:
            body = prometheus_client.generate_latest(exposed)
        except FileNotFoundError as error:
            # The multiprocess directory was removed under us (a redeploy): say so
            # in the logs, answer empty rather than fail the scrape with a 500.
            logger.warning("Prometheus metrics generation failed: %s", error)
            return Response(status=204, content_type=None)
        response = Response(body=body)
        response.headers["Content-Type"] = prometheus_client.CONTENT_TYPE_LATEST
        return response

    return metrics_view


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    if not asbool(settings.get("prometheus_created_metrics_enabled", True)):
        prometheus_client.disable_created_metrics()
    prefix = settings.get("prometheus_prefix") or settings["project_name"]
    disabled = aslist(settings.get("prometheus_disabled_metrics") or "")
    buckets = _buckets(settings.get("prometheus_histogram_buckets") or DEFAULT_BUCKETS)
    # A registry per application, not prometheus_client's global one: tests and
    # embedding applications build several apps in one process.
    own = prometheus_client.CollectorRegistry(auto_describe=True)
    service = PrometheusService(own, prefix, disabled, buckets)
    config.add_api_capability(
        "prometheus",
        description="Prometheus metrics.",
        url="https://github.com/Kinto/kinto/",
        prefix=service.prefix,
        disabled_metrics=disabled,
    )
    config.add_route("prometheus_metrics", "/__metrics__")
    config.add_view(metrics_view_factory(exposed_registry(own)), route_name="prometheus_metrics")
    config.add_metrics_service(service)
