"""Sizing waitress for requests that wait (``kinto start``).

waitress runs each request on one of a fixed pool of threads (4 by default)
and streams a response body from that thread.  A long-poll or an event stream
therefore keeps its thread while it waits, so ``kinto start`` gives waitress
one thread per allowed subscriber on top of the threads of ordinary requests
(``threads`` of ``[server:main]``): subscribers can never take the threads of
ordinary requests.  A waiting thread blocks on an event, costing no CPU and
no database connection (it holds neither transaction nor connection while
waiting), and only the memory of its stack (see the README for the figure).

waitress also limits open connections (``connection_limit``, 100 by default),
raised likewise, and watches its sockets with ``select()`` unless told to use
``poll()``, which has no 1024-descriptor ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kinto_clone.core.live.settings import live_settings

WAITRESS_THREADS = 4
WAITRESS_CONNECTION_LIMIT = 100


def waitress_options(
    options: Mapping[str, Any], app_settings: Mapping[str, Any]
) -> dict[str, Any]:
    """``options`` for :func:`waitress.create_server`, with room for the subscribers."""
    subscribers = live_settings(dict(app_settings))["live_max_subscribers"]
    sized = dict(options)
    threads = int(sized.get("threads") or WAITRESS_THREADS)
    sized["threads"] = str(threads + subscribers)
    limit = int(sized.get("connection_limit") or WAITRESS_CONNECTION_LIMIT)
    sized["connection_limit"] = str(limit + subscribers)
    sized.setdefault("asyncore_use_poll", "true")
    return sized


class ParkingMap(dict):
    """waitress's socket map, hiding *parked* connections from its event loop.

    On every turn, waitress's loop asks each connection of its map whether it
    wants to read or write, then registers it with ``poll()``: with 1,000 open
    streams, that is 1,000 pairs of calls per turn, paid by every ordinary
    request.  A stream waiting for a change has nothing to read (waitress does
    not read while a request runs) and nothing to write: it is parked, and the
    loop skips it until the stream unparks it to write (its thread writes the
    bytes itself; the loop only helps with what the socket could not take).
    """

    def __init__(self) -> None:
        super().__init__()
        self.parked: set[int] = set()

    def items(self) -> list[tuple[int, Any]]:  # type: ignore[override]
        parked = self.parked
        if not parked:
            return list(super().items())
        return [(fd, channel) for fd, channel in super().items() if fd not in parked]

    def __delitem__(self, fd: int) -> None:
        self.parked.discard(fd)
        super().__delitem__(fd)


def waitress_channel(environ: Mapping[str, Any]) -> Any:
    """The waitress connection serving ``environ``, when its map can park it."""
    check = environ.get("waitress.client_disconnected")
    channel = getattr(check, "__self__", None)
    return channel if isinstance(getattr(channel, "_map", None), ParkingMap) else None


def park(channel: Any) -> None:
    """Hide an idle connection from the event loop (not one with bytes to send)."""
    if channel is not None and not channel.total_outbufs_len and channel._fileno is not None:
        channel._map.parked.add(channel._fileno)


def unpark(channel: Any) -> None:
    if channel is not None and channel._fileno is not None:
        channel._map.parked.discard(channel._fileno)
