"""One unit of work per request (or batch), shared by every backend it touches.

Kinto relies on ``zope.transaction`` and keeps half-done writes in its memory
backend when a request fails.  Here each backend *joins* the current
:class:`Transaction` with a participant (an SQL connection, an undo journal for the
memory backends) and the request tween commits or aborts all of them together.

The current transaction lives in a :class:`contextvars.ContextVar`, so each waitress
thread (and each CLI command) sees its own.  Backends called outside any
transaction wrap the single call in a short-lived one (see :func:`atomic`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

logger = logging.getLogger(__name__)


class Participant(Protocol):
    """What a backend contributes to a transaction."""

    def commit(self) -> None: ...

    def abort(self) -> None: ...


P = TypeVar("P", bound=Participant)


class Transaction:
    """Commits or aborts every joined participant, in the order they joined."""

    def __init__(self) -> None:
        self._participants: dict[Hashable, Participant] = {}
        self._before_commit: list[Callable[[], None]] = []
        self._after_commit: list[Callable[[], None]] = []
        self.active = True
        self.data: dict[str, Any] = {}
        """Scratch space shared by everything taking part in the transaction
        (pending events of a request and of all its batch sub-requests)."""
        self.locks_first = False
        """Writers take their lock before reading what they replace, instead
        of checking at write time that it is unchanged (see :class:`WriteConflict`):
        set on the run of a request that follows a conflict, which then
        cannot conflict again."""
        self.conflicted = False
        """A :class:`WriteConflict` was raised: whatever the request answered,
        the transaction is aborted and the request runs again."""

    def join(self, key: Hashable, factory: Callable[[], P]) -> P:
        """Return the participant registered under ``key``, creating it on first use.

        Backends sharing a key (two SQL backends on one database, every memory
        backend of an app) share one participant and thus one atomic commit.
        """
        participant = self._participants.get(key)
        if participant is None:
            participant = factory()
            self._participants[key] = participant
        return participant  # type: ignore[return-value]

    def add_before_commit_hook(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` just before committing; raising aborts the transaction."""
        self._before_commit.append(hook)

    def add_after_commit_hook(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the data is committed; its errors are only logged."""
        self._after_commit.append(hook)

    def commit(self) -> None:
        while self._before_commit:
            self._before_commit.pop(0)()
        self.active = False
        participants = list(self._participants.values())
        try:
            for participant in participants:
                participant.commit()
        except BaseException:
            # The first participant failed to commit: nothing durable happened
            # yet for the remaining ones, so abort them.
            for participant in participants:
                with contextlib.suppress(Exception):
                    participant.abort()
            raise
        for hook in self._after_commit:
            try:
                hook()
            except Exception:
                logger.exception("after-commit hook failed")

    def abort(self) -> None:
        self.active = False
        for participant in reversed(list(self._participants.values())):
            try:
                participant.abort()
            except Exception:
                logger.exception("transaction abort failed")


class WriteConflict(Exception):
    """An object changed between a request's read of it and its write.

    Raised by a backend checking versions at write time, so that a write does
    not hold its list's lock while the request works.  The transaction is
    marked :attr:`~Transaction.conflicted` first: a batch renders the error of
    its sub-request as a response, yet the request tween still sees it, aborts
    and runs the request again with :attr:`~Transaction.locks_first`.
    """


def write_conflict(message: str) -> WriteConflict:
    """The :class:`WriteConflict` to raise, the current transaction marked."""
    tx = current()
    if tx is not None:
        tx.conflicted = True
    return WriteConflict(message)


def locks_first() -> bool:
    """Whether writers must lock before reading (see :attr:`Transaction.locks_first`);
    outside a transaction there is no request to run again, so they must."""
    tx = current()
    return tx is None or tx.locks_first


_current: ContextVar[Transaction | None] = ContextVar("kinto_clone_transaction", default=None)


def current() -> Transaction | None:
    """The transaction of the running request or command, if any."""
    tx = _current.get()
    return tx if tx is not None and tx.active else None


@contextlib.contextmanager
def bound(tx: Transaction) -> Iterator[Transaction]:
    """Make ``tx`` the current transaction for the duration of the block.

    The caller decides when to commit or abort (the request tween does).
    """
    token = _current.set(tx)
    try:
        yield tx
    finally:
        _current.reset(token)


@contextlib.contextmanager
def atomic() -> Iterator[Transaction]:
    """Join the current transaction, or run a new one committed on exit.

    Nested uses share the outermost transaction: only it commits.
    """
    existing = current()
    if existing is not None:
        yield existing
        return
    tx = Transaction()
    token = _current.set(tx)
    try:
        yield tx
    except BaseException:
        tx.abort()
        raise
    else:
        tx.commit()
    finally:
        _current.reset(token)


def commit_apart(write: Callable[[], Any]) -> None:
    """Run ``write`` in a transaction of its own, committed at once, whatever the
    current one becomes; its errors are logged and ignored.

    For cache writes that only save work (a verified password, a verified
    token): the request may still fail and abort its own transaction, yet the
    next request should not pay for the verification again.  Losing such a
    write is harmless, hence no error.
    """
    try:
        with bound(Transaction()) as tx:
            try:
                write()
            except BaseException:
                tx.abort()
                raise
            tx.commit()
    except Exception:
        logger.warning("a cache write apart from the request failed", exc_info=True)


class UndoJournal:
    """Participant of the in-memory backends: a write lock plus undo actions.

    The lock is taken at the first write and held until commit or abort, so a
    transaction's writes are invisible to other threads until it commits (their
    reads take the same lock) and timestamps are handed out in commit order.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._lock.acquire()
        self._undo: list[Callable[[], None]] = []

    def on_abort(self, undo: Callable[[], None]) -> None:
        self._undo.append(undo)

    def commit(self) -> None:
        self._undo.clear()
        self._lock.release()

    def abort(self) -> None:
        try:
            for undo in reversed(self._undo):
                undo()
        finally:
            self._undo.clear()
            self._lock.release()


def shared_memory_lock(registry: object) -> threading.RLock:
    """The one lock shared by every in-memory backend of an application.

    Sharing it means storage, permission and cache writes of a request commit or
    roll back as one, and no two locks can be taken in opposite orders.
    """
    lock = getattr(registry, "memory_backends_lock", None)
    if lock is None:
        lock = threading.RLock()
        registry.memory_backends_lock = lock  # type: ignore[attr-defined]
    return lock
