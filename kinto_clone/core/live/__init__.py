"""Live changes: long-poll and server-sent events on the plural endpoints.

Clients learn of a change within milliseconds instead of polling ``_since``:

* ``GET`` with ``_since``/``If-None-Match`` and ``Prefer: wait=N`` waits for a
  change (:mod:`.longpoll`);
* ``Accept: text/event-stream`` streams the list's changes (:mod:`.events_stream`).

Both read through the ordinary list endpoint (:mod:`.subrequests`) when woken
by the per-process hub (:mod:`.hub`), which the change sources of the storage
backend feed after commit (:mod:`.sources`).  The tween sits above the
transaction tween: a waiting request holds no transaction and no connection.

Settings (read with the others by :mod:`kinto_clone.core.settings`):
``kinto.live_max_subscribers`` (waiting requests per process, then
503), ``kinto.live_max_wait_seconds`` (longest ``Prefer: wait``),
``kinto.live_heartbeat_seconds`` (comment sent on an idle stream) and
``kinto.live_poll_interval_ms`` (SQLite change check of other processes).
"""

from __future__ import annotations

from collections.abc import Callable

from pyramid import httpexceptions
from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.errors import ERRORS, http_error
from kinto_clone.core.live import events_stream, longpoll
from kinto_clone.core.live.hub import ChangeHub, SubscribersFull
from kinto_clone.core.live.sources import setup_sources
from kinto_clone.core.live.subrequests import is_plural_path
from kinto_clone.core.tweens import ResponseHeaders

__all__ = ["includeme"]


def _too_many_subscribers(request: Request) -> Response:
    """The 503 past the bound; answered above the router, so the security and
    CORS headers every answer gets are added here."""
    registry = request.registry
    response = http_error(
        httpexceptions.HTTPServiceUnavailable(),
        errno=ERRORS.BACKEND,
        message="Too many live subscribers on this server, please retry later.",
    )
    response.headers["Retry-After"] = str(registry.settings["retry_after_seconds"])
    ResponseHeaders(registry.settings).apply(request, response)
    return response


def live_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    hub: ChangeHub = registry.live_hub
    settings = registry.settings
    max_wait = settings["live_max_wait_seconds"]
    heartbeat = settings["live_heartbeat_seconds"]

    def live_tween(request: Request) -> Response:
        if request.method != "GET" or not is_plural_path(request):
            return handler(request)
        try:
            streaming = events_stream.wants_event_stream(request)
            wait = None if streaming else longpoll.requested_wait(request)
            conditional = wait is not None and longpoll.is_conditional(request)
        except (UnicodeDecodeError, ValueError):
            return handler(request)  # The plain handling answers with a 400.
        try:
            if streaming:
                return events_stream.stream(request, hub, heartbeat)
            if conditional and wait:
                return longpoll.long_poll(request, hub, min(wait, max_wait))
        except SubscribersFull:
            return _too_many_subscribers(request)
        return handler(request)

    return live_tween


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    hub = ChangeHub(settings["live_max_subscribers"])
    config.registry.live_hub = hub
    setup_sources(config, hub, settings["live_poll_interval_ms"] / 1000)
    config.add_tween(
        "kinto_clone.core.live.live_tween_factory",
        over="kinto_clone.core.tweens.transaction_tween_factory",
        under="kinto_clone.core.tweens.end_of_service_tween_factory",
    )
    config.add_api_capability(
        "live",
        description="Changes of the plural endpoints as they commit: long-poll with "
        "Prefer: wait=<seconds>, and server-sent events with Accept: text/event-stream.",
        url="https://html.spec.whatwg.org/multipage/server-sent-events.html",
        max_subscribers=settings["live_max_subscribers"],
        max_wait_seconds=settings["live_max_wait_seconds"],
        heartbeat_seconds=settings["live_heartbeat_seconds"],
    )
