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
