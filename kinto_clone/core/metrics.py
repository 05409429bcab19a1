"""The generic metrics layer: what is measured, independent of where it is sent.

Kinto's plugins (``kinto.plugins.prometheus``, ``kinto.plugins.statsd``) and third-party
ones implement one small interface, :class:`MetricsService` (``timer``, ``observe``,
``count``, with Kinto's signatures), and register it with ``config.add_metrics_service``.
Several may be on at once: ``registry.metrics`` fans every measurement out to all of
them.  With none registered nothing is instrumented, so metrics cost nothing when off.

What is measured, under Kinto 26.5.0's names (a backend turns ``.`` into ``_`` and adds
its prefix): ``request_duration_seconds``, ``request_summary``, ``request_size``,
``authentication`` and ``users`` per request (:mod:`kinto_clone.core.request_metrics`);
``backend.{storage,permission,cache}.seconds`` and ``authentication.<policy>.seconds``
per call; ``listeners.<name>.seconds`` and ``plugins.history.seconds`` per event;
``cache_hits``/``cache_misses`` from the cache backends.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any, Protocol

from pyramid.config import Configurator
from pyramid.registry import Registry

Labels = Sequence[tuple[str, str]]


class Timer(Protocol):
    """What ``timer(key)`` returns: a decorator and a context manager."""

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc_info: object) -> None: ...


class MetricsService(Protocol):
    """Kinto's ``IMetricsService``: one destination of measurements.

    A service may also have ``start_batch()`` and ``flush()``: the request tween
    then calls them around each request, so that it can send what was measured
    during the request at once (StatsD: one UDP packet rather than one per value).
    """

    def timer(self, key: str, value: float | None = None, labels: Labels = ()) -> Any:
        """Record ``value`` seconds under ``key``, or return a :class:`Timer` to time code."""

    def observe(self, key: str, value: float, labels: Labels = ()) -> None:
        """Record one observation of a quantity (a response size...)."""

    def count(self, key: str, count: int = 1, unique: Labels | None = None) -> None:
        """Add ``count`` to a counter, split by the ``unique`` labels."""


class FunctionTimer:
    """A :class:`Timer` calling ``record(seconds)``: services build theirs on it,
    and :class:`FanOutMetrics` calls the ``record`` of each directly."""

    __slots__ = ("_started", "record")

    def __init__(self, record: Callable[[float], Any]) -> None:
        self.record = record
        self._started = 0.0

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        record = self.record

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                record(perf_counter() - started)

        return timed

    def __enter__(self) -> FunctionTimer:
        self._started = perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.record(perf_counter() - self._started)


class NoOpMetrics:
    """Measurements going nowhere: ``registry.metrics`` when no service is registered."""

    def timer(self, key: str, value: float | None = None, labels: Labels = ()) -> Any:
        return None if value is not None else FunctionTimer(lambda seconds: None)

    def observe(self, key: str, value: float, labels: Labels = ()) -> None:
        pass

    def count(self, key: str, count: int = 1, unique: Labels | None = None) -> None:
        pass


class FanOutMetrics:
    """Every measurement sent to each registered service, in registration order."""

    def __init__(self, services: Sequence[MetricsService]) -> None:
        self.services = tuple(services)

    def timer(self, key: str, value: float | None = None, labels: Labels = ()) -> Any:
        if value is not None:
            for service in self.services:
                service.timer(key, value, labels)
            return None
        if len(self.services) == 1:
            return self.services[0].timer(key, labels=labels)
        # One clock for all: each service records the same duration, through its
        # own timer's recorder when it has one (resolved once, here).
        records = []
        for service in self.services:
            timer = service.timer(key, labels=labels)
            if isinstance(timer, FunctionTimer):
                records.append(timer.record)
            else:
                records.append(functools.partial(service.timer, key, labels=labels))

        def record(seconds: float) -> None:
            for record_one in records:
                record_one(seconds)

        return FunctionTimer(record)

    def observe(self, key: str, value: float, labels: Labels = ()) -> None:
        for service in self.services:
            service.observe(key, value, labels)

    def count(self, key: str, count: int = 1, unique: Labels | None = None) -> None:
        for service in self.services:
            service.count(key, count, unique)


def add_metrics_service(config: Configurator, service: MetricsService) -> None:
    """Directive: send measurements to ``service`` too (plugins call it in includeme)."""
    registry = config.registry
    services = registry.metrics_services
    services.append(service)
    registry.metrics = services[0] if len(services) == 1 else FanOutMetrics(services)
    if hasattr(service, "start_batch") and hasattr(service, "flush"):
        registry.metrics_batches.append(service)


def metrics_enabled(registry: Registry) -> bool:
    return bool(registry.metrics_services)


def watch_execution_time(
    service: MetricsService, obj: Any, prefix: str, classname: str | None = None
) -> None:
    """Time every public method of ``obj`` as ``{prefix}.{classname}.seconds``.

    The method name is the ``method`` label.  Each method gets its own timer built
    once, here, so a call costs two clock reads and one observation.
    """
    classname = classname or type(obj).__name__.lower()
    key = f"{prefix}.{classname}.seconds"
    for name in dir(obj):
        if name.startswith("_"):
            continue
        method = getattr(obj, name)
        if isinstance(method, types.MethodType):
            setattr(obj, name, service.timer(key, labels=[("method", name)])(method))


def listener_with_timer(registry: Registry, key: str, listener: Callable[..., Any]) -> Callable:
    """``listener`` timed as ``key`` (``.seconds`` added) when metrics are on.

    The registry is read at call time: plugins registering a metrics service may be
    included after the listener is set up.
    """
    key = key if key.endswith(".seconds") else key + ".seconds"

    @functools.wraps(listener)
    def timed_listener(*args: Any, **kwargs: Any) -> Any:
        if not registry.metrics_services:
            return listener(*args, **kwargs)
        with registry.metrics.timer(key):
            return listener(*args, **kwargs)

    return timed_listener


def includeme(config: Configurator) -> None:
    config.registry.metrics_services = []
    config.registry.metrics_batches = []
    config.registry.metrics = NoOpMetrics()
    config.add_directive("add_metrics_service", add_metrics_service)
