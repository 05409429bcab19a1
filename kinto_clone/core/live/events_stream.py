"""Server-sent events on the plural endpoints (``Accept: text/event-stream``).

The stream sends one event per object changed in the list, in commit order:
``event: change`` with the object, or ``event: delete`` with its tombstone,
``id:`` its ``last_modified``.  Each time the list changes (see :mod:`.hub`)
the stream reads it with ``_since=<cursor>&_sort=last_modified`` and the
list's own filters; the cursor then moves to the list's ETag, so nothing is
sent twice and nothing committed later is skipped.  ``Last-Event-ID`` (or
``_since``) starts the cursor; without either, the stream starts from now.

An object changed several times between two reads arrives once, in its
latest state, as with ``_since`` polling.  A read refused (permission lost,
list deleted) ends the stream with ``event: error`` and the error body.
Comments (``: heartbeat``) are sent when nothing happened for a while.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.live import serving
from kinto_clone.core.live.hub import ChangeHub, Subscription
from kinto_clone.core.live.subrequests import ListRead, query_items, read_list

EVENT_STREAM = "text/event-stream"
PAGE_SIZE = 500
# Parameters the stream sets itself; the others (filters, ``_fields``) are kept.
_STREAM_PARAMETERS = {"_since", "_sort", "_limit", "_token"}
# Headers of the first read the stream answer keeps (CORS, security).
_KEPT_HEADER_PREFIXES = ("access-control-", "content-security-policy", "x-content-type-options")
RECONNECT_MILLISECONDS = 1000


def wants_event_stream(request: Request) -> bool:
    return EVENT_STREAM in (request.headers.get("Accept") or "")


def _cursor(value: str | None) -> int | None:
    text = (value or "").strip().strip('"')
    return int(text) if text.isdigit() else None


class EventStream:
    """The changes of one list for one caller; iterated by the server thread."""

    def __init__(
        self,
        request: Request,
        hub: ChangeHub,
        subscription: Subscription,
        heartbeat_seconds: float,
    ) -> None:
        self._request = request
        self._hub = hub
        self._subscription = subscription
        self._heartbeat = heartbeat_seconds
        self._filters = [(k, v) for k, v in query_items(request) if k not in _STREAM_PARAMETERS]
        self.cursor = _cursor(request.headers.get("Last-Event-ID"))
        if self.cursor is None:
            self.cursor = _cursor(request.GET.get("_since"))

    def read(self, shared: bool = True) -> ListRead:
        """The changes after the cursor (or, without one, the list's ETag).

        ``shared``: the answer may be another subscriber's (see
        :class:`~kinto_clone.core.live.hub.SharedReads`); the first read, whose
        response may be answered as such, is always the stream's own.
        """
        self._subscription.arm()
        if self.cursor is None:
            query = [*self._filters, ("_limit", "1")]
        else:
            since = [("_since", str(self.cursor)), ("_sort", "last_modified")]
            query = [*self._filters, *since, ("_limit", str(PAGE_SIZE))]
        environ = self._request.environ
        key = (
            self._request.path_info,
            tuple(query),
            *(environ.get(name) for name in ("HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_ORIGIN")),
        )
        if shared:
            read = self._hub.reads.read(
                key, self._subscription.armed_at, lambda: read_list(self._request, query)
            )
        else:
            read = read_list(self._request, query)
        if read.group != self._subscription.group:
            self._subscription.watch(read.group)
        return read

    def _advance(self, read: ListRead) -> bytes:
        """The events of ``read``, moving the cursor past them."""
        if self.cursor is None:
            self.cursor = read.etag
            return b""
        objects = read.objects
        if read.has_next_page and objects:
            self.cursor = objects[-1]["last_modified"]
        elif read.etag is not None:
            self.cursor = max(self.cursor, read.etag)
        return read.events

    def events(self, first: ListRead) -> Iterator[bytes]:
        try:
            yield f"retry: {RECONNECT_MILLISECONDS}\n\n".encode()
            read = first
            while True:
                if not read.ok:
                    body = read.response.body.decode("utf-8", "replace")
                    yield f"event: error\ndata: {' '.join(body.splitlines())}\n\n".encode()
                    return
                chunk = self._advance(read)
                if chunk:
                    yield chunk
                if not read.has_next_page:
                    while not serving.parked_wait(
                        self._request, self._subscription, self._heartbeat
                    ):
                        yield b": heartbeat\n\n"
                    if self._subscription.hung_up:
                        return
                read = self.read()
        finally:
            self._subscription.close()


def stream(request: Request, hub: ChangeHub, heartbeat_seconds: float) -> Response:
    """The event stream answer; an error of the first read is answered as such."""
    subscription = hub.subscribe()
    try:
        live = EventStream(request, hub, subscription, heartbeat_seconds)
        first = live.read(shared=False)
    except BaseException:
        subscription.close()
        raise
    if not first.ok:
        subscription.close()
        return first.response
    response = Response(status=200, content_type=EVENT_STREAM, charset="utf-8")
    for name, value in first.response.headerlist:
        if name.lower().startswith(_KEPT_HEADER_PREFIXES):
            response.headers[name] = value
    response.headers["Cache-Control"] = "no-cache"
    # Proxies (nginx) must not buffer the stream.
    response.headers["X-Accel-Buffering"] = "no"
    response.app_iter = _StreamBody(live.events(first), subscription)
    return response


class _StreamBody:
    """The response body; closing it (the server does, even before the first
    chunk) frees the subscription."""

    def __init__(self, chunks: Iterator[bytes], subscription: Subscription) -> None:
        self._chunks = chunks
        self._subscription = subscription

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        try:
            self._chunks.close()  # type: ignore[attr-defined]
        finally:
            self._subscription.close()
