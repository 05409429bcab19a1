"""Where committed changes meet the requests waiting for them, in one process.

A change source (:mod:`.sources`) publishes the groups a commit touched, a group
being a list of objects: ``(resource_name, parent_id)``, as stamped by the
storage.  Each waiting request holds a :class:`Subscription` watching one group
(or every group, when its group is unknown); a publication sets the event of
each matching subscription.  Nothing but a wake-up travels here: the waiting
request then reads the changes through the ordinary list endpoint, with
``_since``, so it sees exactly what a polling client would, with its own
permissions, in commit order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

Group = tuple[str, str]
EVERY_GROUP = None
T = TypeVar("T")
# Finished reads kept for late subscribers; past this, they are dropped.
MAX_SHARED_READS = 1000
# Sub-requests of waiting requests running at once in a process: each holds a
# database connection while it runs, so the pools make room for them (see
# :func:`kinto_clone.workers.pool_defaults`) and a commit waking hundreds of
# subscribers never takes the connections of ordinary requests.
CONCURRENT_READS = 4


class SubscribersFull(Exception):
    """As many requests are waiting as ``kinto.live_max_subscribers`` allows."""


class Subscription:
    """One waiting request: an event set when its group changes."""

    def __init__(self, hub: ChangeHub) -> None:
        self._hub = hub
        self._event = threading.Event()
        self.group: Group | None = EVERY_GROUP
        self.armed_at = 0
        self.closed = False
        self.hung_up = False
        """Set when the client closed its connection while waiting (see
        :class:`~kinto_clone.core.live.serving.HangUps`)."""

    def watch(self, group: Group | None) -> None:
        """Be woken by changes to ``group`` only (``None``: by any change)."""
        self._hub._move(self, group)

    def arm(self) -> None:
        """Forget earlier wake-ups; call before reading the changes, so that a
        commit landing between that read and :meth:`wait` still wakes."""
        self._event.clear()
        self.armed_at = self._hub.generation

    def wait(self, timeout: float) -> bool:
        """Whether the group changed within ``timeout`` seconds (since :meth:`arm`)."""
        return self._event.wait(timeout)

    def wake(self) -> None:
        self._event.set()

    def hang_up(self) -> None:
        self.hung_up = True
        self._event.set()

    def close(self) -> None:
        self._hub._remove(self)


class ChangeHub:
    """The subscriptions of one process, by group, bounded in number."""

    def __init__(self, max_subscribers: int) -> None:
        self.max_subscribers = max_subscribers
        self._lock = threading.Lock()
        self._by_group: dict[Group | None, set[Subscription]] = {}
        self._count = 0
        self._on_first_subscriber: list[Callable[[], None]] = []
        self.generation = 0
        """Publications so far; taken by subscriptions as they arm (:class:`SharedReads`)."""
        self.reads = SharedReads(lambda: self.generation)
        self.read_slots = threading.BoundedSemaphore(CONCURRENT_READS)

    @property
    def subscriber_count(self) -> int:
        return self._count

    def on_first_subscriber(self, start: Callable[[], None]) -> None:
        """Run ``start`` (once) when the first subscription is taken: change
        sources start their thread only in processes that have subscribers."""
        self._on_first_subscriber.append(start)

    def subscribe(self) -> Subscription:
        """A new subscription watching every group; :class:`SubscribersFull` past the bound."""
        subscription = Subscription(self)
        with self._lock:
            if self._count >= self.max_subscribers:
                raise SubscribersFull()
            self._count += 1
            self._by_group.setdefault(EVERY_GROUP, set()).add(subscription)
            starters, self._on_first_subscriber = self._on_first_subscriber, []
        for start in starters:
            start()
        return subscription

    def publish(self, groups: Iterable[Group] | None) -> None:
        """Wake the subscriptions of ``groups`` (``None``: every subscription)."""
        with self._lock:
            self.generation += 1
            if groups is None:
                woken = [s for subscribers in self._by_group.values() for s in subscribers]
            else:
                woken = list(self._by_group.get(EVERY_GROUP, ()))
                for group in set(groups):
                    woken.extend(self._by_group.get(group, ()))
        for subscription in woken:
            subscription.wake()

    def _move(self, subscription: Subscription, group: Group | None) -> None:
        with self._lock:
            if subscription.closed:
                return
            self._discard(subscription)
            subscription.group = group
            self._by_group.setdefault(group, set()).add(subscription)

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            subscription.closed = True
            if self._discard(subscription):
                self._count -= 1

    def _discard(self, subscription: Subscription) -> bool:
        subscribers = self._by_group.get(subscription.group)
        if subscribers is None or subscription not in subscribers:
            return False
        subscribers.discard(subscription)
        if not subscribers:
            del self._by_group[subscription.group]
        return True


class SharedReads:
    """One read for the subscribers asking the same question at the same time.

    A commit wakes every subscriber of its list at once; those with the same
    credentials, query and cursor would each send the same sub-request.  A
    subscriber may take the answer of a read that started after the last
    publication it was woken by (the hub's :attr:`ChangeHub.generation`, read
    when it armed): that read sees every commit announced so far, and a later
    commit wakes the subscriber again.  Otherwise (or when no such read exists)
    it reads itself, and others may take its answer.
    """

    def __init__(self, generation: Callable[[], int]) -> None:
        self._lock = threading.Lock()
        self._generation = generation
        self._reads: dict[Hashable, _Read] = {}

    def read(self, key: Hashable, armed_at: int, run: Callable[[], T]) -> T:
        with self._lock:
            shared = self._reads.get(key)
            mine = shared is None or shared.started < armed_at
            if mine:
                if len(self._reads) >= MAX_SHARED_READS:
                    self._forget_finished()
                shared = _Read(self._generation())
                self._reads[key] = shared
        if not mine:
            shared.done.wait()
            if shared.failed:
                return run()
            return shared.result  # type: ignore[return-value]
        try:
            shared.result = run()
        except BaseException:
            shared.failed = True
            raise
        finally:
            shared.done.set()
        return shared.result

    def _forget_finished(self) -> None:
        self._reads = {k: r for k, r in self._reads.items() if not r.done.is_set()}


class _Read:
    def __init__(self, started: int) -> None:
        self.started = started
        self.done = threading.Event()
        self.result: Any = None
        self.failed = False
