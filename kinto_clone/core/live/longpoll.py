"""Long-poll on the plural endpoints: ``Prefer: wait=<seconds>`` (RFC 7240).

A ``GET`` with ``_since`` or ``If-None-Match`` that has nothing newer (a 304, or
an empty list) is read again each time its list changes, until something is
newer or the wait is over; the answer is then exactly the one a plain poll
would have given at that moment, with ``Preference-Applied: wait=<seconds>``.
The request holds no transaction while it waits: each read is a sub-request
with its own.
"""

from __future__ import annotations

import re
import time

from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.live import serving
from kinto_clone.core.live.hub import ChangeHub
from kinto_clone.core.live.subrequests import ListRead, query_items, read_list

_WAIT_PREFERENCE = re.compile(r"^\s*wait\s*=\s*\"?(\d{1,9})\"?\s*$", re.IGNORECASE)


def requested_wait(request: Request) -> int | None:
    """Seconds of ``Prefer: wait=N``; ``None`` when absent or unreadable
    (RFC 7240: a preference a server cannot understand is ignored)."""
    # Repeated headers reach WSGI joined by commas.
    for preference in re.split(r"[,;]", request.headers.get("Prefer") or ""):
        match = _WAIT_PREFERENCE.match(preference)
        if match:
            return int(match.group(1))
    return None


def is_conditional(request: Request) -> bool:
    return "_since" in request.GET or "If-None-Match" in request.headers


def _has_nothing_newer(read: ListRead, since_given: bool) -> bool:
    status = read.response.status_code
    if status == 304:
        return True
    return status == 200 and since_given and not read.objects and not read.has_next_page


def long_poll(request: Request, hub: ChangeHub, wait_seconds: int) -> Response:
    """The list of ``request`` once it has something newer, or after ``wait_seconds``."""
    query = query_items(request)
    since_given = "_since" in request.GET
    if_none_match = request.headers.get("If-None-Match")
    deadline = time.monotonic() + wait_seconds
    subscription = hub.subscribe()
    try:
        while True:
            subscription.arm()
            read = read_list(request, query, if_none_match)
            if read.group != subscription.group:
                subscription.watch(read.group)
            if not _has_nothing_newer(read, since_given):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not serving.parked_wait(request, subscription, remaining):
                break
            if subscription.hung_up:
                break  # Nobody to answer: the last read will do.
    finally:
        subscription.close()
    response = read.response
    response.headers["Preference-Applied"] = f"wait={wait_seconds}"
    return response
