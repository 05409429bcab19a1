"""Kinto's ``kinto.plugins.statsd``: the measurements sent to a StatsD server over UDP.

``kinto.statsd_url = udp://host:8125`` turns it on, as Kinto's documentation says
(Kinto 26.5.0 itself also needs the plugin in ``kinto.includes``; either works here).
Names are Kinto's: ``<prefix>.<key>`` with the labels appended as ``.name.value``
pairs, counters with labels sent as StatsD sets, durations in milliseconds.

The prefix is ``kinto.statsd_prefix`` when the ini sets it, else the project name.
Kinto 26.5.0 ignores ``statsd_prefix`` whenever ``project_name`` is set (always, by
default); a setting written in an ini is never ignored here.
``kinto.statsd_backend`` names the module building the client (Kinto's
``kinto.core.statsd`` is this one): any module with ``load_from_config(config)``.
"""

from __future__ import annotations

import functools
import threading
from typing import Any
from urllib.parse import urlparse

import statsd
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from kinto_clone.core import dotted
from kinto_clone.core.metrics import FunctionTimer, Labels, MetricsService

DEFAULT_PORT = 8125
# Lines sent together, newline-separated, as StatsD servers accept them; below the
# 1500-byte Ethernet MTU once IP and UDP headers are added.
MAX_PACKET_BYTES = 1432


def sanitize(value: Any) -> Any:
    """Colons end a StatsD name; Telegraf refuses them in values too."""
    return value.replace(":", "") if isinstance(value, str) else value


@functools.lru_cache(maxsize=4096)
def _joined_labels(labels: tuple[tuple[str, Any], ...]) -> str:
    return ".".join(f"{name}.{sanitize(value)}" for name, value in labels)


def _dotted_labels(labels: Labels) -> str:
    """``[("method", "get"), ("endpoint", "hello")]`` -> ``method.get.endpoint.hello``.

    Requests repeat the same few label sets: the strings are kept (a bounded cache).
    """
    return _joined_labels(tuple(labels))


class StatsDService:
    """Kinto's metrics interface over a :class:`statsd.StatsClient`.

    Values measured while a request is served are kept in a per-thread pipeline
    and sent when it ends (:meth:`start_batch`, :meth:`flush`, called by the
    request tween), a few lines per UDP packet: one ``sendto`` per value would
    cost more than the request.  Outside requests values are sent at once.
    """

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self.client = statsd.StatsClient(
            host, port, prefix=prefix or None, maxudpsize=MAX_PACKET_BYTES
        )
        self._local = threading.local()

    def _target(self) -> Any:
        return getattr(self._local, "pipeline", None) or self.client

    def start_batch(self) -> None:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._local.pipeline = self.client.pipeline()
        self._local.depth = depth + 1

    def flush(self) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            pipeline, self._local.pipeline = self._local.pipeline, None
            pipeline.send()

    def _timing(self, key: str, seconds: float) -> None:
        self._target().timing(key, seconds * 1000)

    def timer(self, key: str, value: float | None = None, labels: Labels = ()) -> Any:
        if labels:
            key = f"{key}.{_dotted_labels(labels)}"
        if value is not None:
            self._timing(key, value)
            return None
        return FunctionTimer(functools.partial(self._timing, key))

    def observe(self, key: str, value: float, labels: Labels = ()) -> None:
        self._target().gauge(key, sanitize(value))

    def count(self, key: str, count: int = 1, unique: Labels | None = None) -> None:
        if unique:
            self._target().set(key, _dotted_labels(unique))
        else:
            self._target().incr(key, count=count)


def load_from_config(config: Configurator) -> MetricsService:
    """The service for ``kinto.statsd_url`` (Kinto's ``kinto.core.statsd`` entry point)."""
    settings = config.get_settings()
    url = settings.get("statsd_url")
    if not url:
        raise ConfigurationError(
            "kinto.plugins.statsd needs kinto.statsd_url (for example udp://localhost:8125)"
        )
    parsed = urlparse(url)
    if parsed.scheme != "udp" or not parsed.hostname:
        raise ConfigurationError(f"kinto.statsd_url = {url}: expected udp://host:port")
    prefix = settings.get("statsd_prefix") or settings["project_name"]
    try:
        return StatsDService(parsed.hostname, parsed.port or DEFAULT_PORT, prefix)
    except OSError as error:
        raise ConfigurationError(f"kinto.statsd_url = {url}: {error}") from error


def includeme(config: Configurator) -> None:
    backend = config.get_settings().get("statsd_backend") or "kinto.core.statsd"
    try:
        module = dotted.resolve(backend)
    except ImportError as error:
        raise ConfigurationError(
            f"kinto.statsd_backend = {backend}: cannot import it ({error})"
        ) from error
    config.add_metrics_service(module.load_from_config(config))
