"""Sizing waitress for requests that wait (``kinto start``).

waitress runs each request on one of a fixed pool of threads (4 by default)
and streams a response body from that thread.  A long-poll or an event stream
therefore keeps its thread while it waits, so ``kinto start`` gives waitress
one thread per allowed subscriber on top of the threads of ordinary requests
(``threads`` of ``[server:main]``): subscribers can never take the threads of
ordinary requests.  A waiting thread blocks on an event, costing no CPU and
no database connection (it holds neither transaction nor connection while
waiting), and only the memory of its stack (see the README for the figure).

With a thousand threads, which one runs the next request matters: waitress's
pool wakes its idle threads in turn, first idle first woken, so each request
ran on the thread idle the longest, its stack and state long gone from the CPU
caches (a record read was 10% slower with 1,208 threads than with 9).
:func:`dispatcher` wakes the thread idle the shortest instead: ordinary
requests keep running on the same few hot threads however many wait beside them.

waitress also limits open connections (``connection_limit``, 100 by default),
raised likewise, and watches its sockets with ``select()`` unless told to use
``poll()``, which has no 1024-descriptor ceiling.
"""

from __future__ import annotations

import contextlib
import select
import threading
from collections.abc import Mapping
from typing import Any

from pyramid.request import Request
from waitress.task import ThreadedTaskDispatcher

from kinto_clone.core.live.hub import Subscription

WAITRESS_THREADS = 4
WAITRESS_CONNECTION_LIMIT = 100


def waitress_options(
    options: Mapping[str, Any], app_settings: Mapping[str, Any]
) -> dict[str, Any]:
    """``options`` for :func:`waitress.create_server`, with room for the subscribers
    (``app_settings``: the application's, as :mod:`kinto_clone.core.settings` read them)."""
    subscribers = app_settings["live_max_subscribers"]
    sized = dict(options)
    threads = int(sized.get("threads") or WAITRESS_THREADS)
    sized["threads"] = str(threads + subscribers)
    limit = int(sized.get("connection_limit") or WAITRESS_CONNECTION_LIMIT)
    sized["connection_limit"] = str(limit + subscribers)
    sized.setdefault("asyncore_use_poll", "true")
    return sized


class StackCondition:
    """The part of :class:`threading.Condition` waitress's pool uses, waking the
    most recent waiter first (a stack, where ``Condition`` is a queue)."""

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self._waiters: list[Any] = []

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock until notified (or ``timeout``); the caller holds it."""
        waiter = threading.Lock()
        waiter.acquire()
        self._waiters.append(waiter)
        self._lock.release()
        notified = False
        try:
            notified = waiter.acquire(True, -1 if timeout is None else timeout)
        finally:
            self._lock.acquire()
            if not notified:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        return notified

    def notify(self, n: int = 1) -> None:
        while self._waiters and n > 0:
            self._waiters.pop().release()
            n -= 1

    def notify_all(self) -> None:
        self.notify(len(self._waiters))


def dispatcher(threads: int) -> ThreadedTaskDispatcher:
    """waitress's thread pool of ``threads`` threads, handing work to the thread
    idle the shortest (see the module's docstring)."""
    pool = ThreadedTaskDispatcher()
    pool.queue_cv = StackCondition(pool.lock)
    pool.set_thread_count(threads)
    return pool


class ParkingMap(dict):
    """waitress's socket map, hiding *parked* connections from its event loop.

    On every turn, waitress's loop asks each connection of its map whether it
    wants to read or write, then registers it with ``poll()``: with 1,000 open
    streams, that is 1,000 pairs of calls per turn, paid by every ordinary
    request.  A stream waiting for a change has nothing to read (waitress does
    not read while a request runs) and nothing to write: it is parked, and the
    loop skips it until the stream unparks it to write (its thread writes the
    bytes itself; the loop only helps with what the socket could not take).

    The loop only sees :meth:`items`, which lists the connections not parked
    (kept in a dict of their own, so a turn costs nothing per parked one); the
    map itself holds every connection, for waitress's ``len()`` (the
    connection limit) and ``get()``.  A parked connection is watched instead by
    :class:`HangUps`, so that a client leaving frees its subscription at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._active: dict[int, Any] = {}
        self.hang_ups = HangUps()

    @property
    def parked(self) -> set[int]:
        with self._lock:
            return set(self) - set(self._active)

    def items(self) -> list[tuple[int, Any]]:  # type: ignore[override]
        with self._lock:
            return list(self._active.items())

    def __setitem__(self, fd: int, channel: Any) -> None:
        with self._lock:
            super().__setitem__(fd, channel)
            self._active[fd] = channel

    def __delitem__(self, fd: int) -> None:
        with self._lock:
            super().__delitem__(fd)
            self._active.pop(fd, None)
            self.hang_ups.forget(fd)

    def park(self, fd: int, channel: Any, subscription: Subscription) -> None:
        with self._lock:
            if self.get(fd) is channel and self._active.pop(fd, None) is not None:
                self.hang_ups.watch(fd, subscription)

    def unpark(self, fd: int, channel: Any) -> None:
        with self._lock:
            if self.get(fd) is channel and fd not in self._active:
                self._active[fd] = channel


class HangUps:
    """One ``epoll`` for the parked connections: a client closing its end wakes
    its subscription (:meth:`Subscription.hang_up`), which ends the stream and
    frees its thread and its place, instead of waiting for the next heartbeat to
    find the socket closed.  Only hang-ups are watched, not incoming bytes; the
    thread sleeps in ``epoll_wait`` and costs nothing while nobody leaves.
    Without ``epoll`` (not Linux), hang-ups are found at the next heartbeat."""

    def __init__(self) -> None:
        self._epoll = getattr(select, "epoll", None)
        self._poller: Any = None
        self._watched: dict[int, Subscription] = {}

    def watch(self, fd: int, subscription: Subscription) -> None:
        """Called under the map's lock, as :meth:`forget`.  A connection stays
        watched until it closes: a stream parks at each wait, and parking is
        then free of system calls (a hang-up while it writes ends it too)."""
        if self._epoll is None or self._watched.get(fd) is subscription:
            return
        if self._poller is None:
            self._poller = self._epoll()
            threading.Thread(target=self._run, name="kinto-live-hangups", daemon=True).start()
        flags = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR | select.EPOLLONESHOT
        try:
            if fd in self._watched:  # A new request on a kept-alive connection.
                self._poller.modify(fd, flags)
            else:
                self._poller.register(fd, flags)
        except OSError:
            return
        self._watched[fd] = subscription

    def forget(self, fd: int) -> None:
        if self._watched.pop(fd, None) is not None:
            with contextlib.suppress(OSError):
                self._poller.unregister(fd)

    def _run(self) -> None:
        while True:
            for fd, _ in self._poller.poll():
                subscription = self._watched.get(fd)
                if subscription is not None:
                    subscription.hang_up()


def waitress_channel(environ: Mapping[str, Any]) -> Any:
    """The waitress connection serving ``environ``, when its map can park it."""
    check = environ.get("waitress.client_disconnected")
    channel = getattr(check, "__self__", None)
    return channel if isinstance(getattr(channel, "_map", None), ParkingMap) else None


def parked_wait(request: Request, subscription: Subscription, seconds: float) -> bool:
    """Wait up to ``seconds`` for a change of the subscription's group (``True``)
    or a hang-up of its client (``True`` too, with ``subscription.hung_up``),
    the connection parked out of waitress's loop meanwhile (when it has no bytes
    left to send: those need the loop)."""
    channel = waitress_channel(request.environ)
    fd = getattr(channel, "_fileno", None)
    parked = fd is not None and not channel.total_outbufs_len
    if parked:
        channel._map.park(fd, channel, subscription)
    try:
        return subscription.wait(seconds)
    finally:
        if parked:
            channel._map.unpark(fd, channel)
