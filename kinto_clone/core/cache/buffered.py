"""Transactions for caches on a key/value server (Redis, Memcached).

Those servers apply each command at once, so a request that failed would keep
the pagination token it consumed or the value it wrote.  Here the writes of a
transaction are kept in a :class:`PendingWrites` overlay instead: the
transaction reads through it (it sees its own writes), other transactions do
not, and the server only receives the writes when the transaction commits.
An aborted transaction just drops its overlay.

Subclasses provide the primitives on full (prefixed) keys: read one entry,
take one entry (read and remove it at once, for :meth:`BufferedCache.pop`,
which cannot wait for the commit), apply a committed batch (after forgetting
everything under the flushed prefixes), and say which server they talk to.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, NamedTuple

from kinto_clone.core import transaction
from kinto_clone.core.cache import CacheBase


class Entry(NamedTuple):
    """A JSON-encoded value and its absolute expiry (seconds since the epoch)."""

    encoded: str
    expires_at: float


Change = Entry | None
"""What a commit does to one key: store an entry, or remove the key (``None``)."""


class PendingWrites:
    """The uncommitted writes of one transaction on one cache server."""

    def __init__(self, cache: BufferedCache) -> None:
        self._cache = cache
        self.flushed_prefixes: set[str] = set()
        self.changes: dict[str, Change] = {}

    def hides(self, full_key: str) -> bool:
        """True when a flush of this transaction removed ``full_key``."""
        return any(full_key.startswith(prefix) for prefix in self.flushed_prefixes)

    def commit(self) -> None:
        if self.flushed_prefixes or self.changes:
            self._cache._write(self.changes, self.flushed_prefixes)

    def abort(self) -> None:
        self.changes.clear()
        self.flushed_prefixes.clear()


class BufferedCache(CacheBase):
    """The cache contract on top of the primitives, through the overlay."""

    def __init__(self, cache_prefix: str = "") -> None:
        super().__init__(cache_prefix=cache_prefix)

    # Primitives of the server.

    def _read(self, full_key: str) -> Entry | None:
        """The stored entry, or ``None`` when absent (expiry is checked by the caller)."""
        raise NotImplementedError

    def _take(self, full_key: str) -> Entry | None:
        """Remove the stored entry at once and return it, or ``None`` when it was
        absent or another caller took it first (expiry is checked by the caller)."""
        raise NotImplementedError

    def _write(self, changes: dict[str, Change], flushed_prefixes: set[str]) -> None:
        """Apply a committed transaction: forget the keys under ``flushed_prefixes``
        (``""`` is every key), then store or remove each changed key."""
        raise NotImplementedError

    def _server_key(self) -> object:
        """Identifies the server: caches sharing it share one overlay."""
        raise NotImplementedError

    # The contract.

    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        return []

    def _pending(self) -> PendingWrites | None:
        tx = transaction.current()
        if tx is None:
            return None
        return tx.join(("cache", self._server_key()), lambda: PendingWrites(self))

    def _live(self, full_key: str) -> Entry | None:
        pending = self._pending()
        if pending is not None and full_key in pending.changes:
            entry = pending.changes[full_key]
        elif pending is not None and pending.hides(full_key):
            entry = None
        else:
            entry = self._read(full_key)
        if entry is None or entry.expires_at <= time.time():
            return None
        return entry

    def _change(self, full_key: str, change: Change) -> None:
        with transaction.atomic():
            pending = self._pending()
            assert pending is not None  # ``atomic`` made a transaction.
            pending.changes[full_key] = change

    def get(self, key: str) -> Any:
        entry = self._live(self.prefix + key)
        return None if entry is None else json.loads(entry.encoded)

    def ttl(self, key: str) -> int:
        entry = self._live(self.prefix + key)
        if entry is None:
            return -1
        return math.ceil(entry.expires_at - time.time())

    def set(self, key: str, value: Any, ttl: float) -> None:
        # ``json.dumps`` rejects bytes with a TypeError, as Kinto's backends do.
        self._change(self.prefix + key, Entry(json.dumps(value), time.time() + ttl))

    def expire(self, key: str, ttl: float) -> None:
        full_key = self.prefix + key
        entry = self._live(full_key)
        if entry is not None:
            self._change(full_key, entry._replace(expires_at=time.time() + ttl))

    def delete(self, key: str) -> Any:
        full_key = self.prefix + key
        entry = self._live(full_key)
        self._change(full_key, None)
        return None if entry is None else json.loads(entry.encoded)

    def pop(self, key: str) -> Any:
        """Take the key on the server at once (see :meth:`CacheBase.pop`), unless
        this transaction wrote or flushed it: then its own state is the value."""
        full_key = self.prefix + key
        pending = self._pending()
        if pending is not None and (full_key in pending.changes or pending.hides(full_key)):
            return self.delete(key)
        entry = self._take(full_key)
        if entry is None or entry.expires_at <= time.time():
            return None
        return json.loads(entry.encoded)

    def flush(self) -> None:
        """Forget every key under this cache's prefix (all of them without one)."""
        with transaction.atomic():
            pending = self._pending()
            assert pending is not None
            pending.flushed_prefixes.add(self.prefix)
            for full_key in [k for k in pending.changes if k.startswith(self.prefix)]:
                del pending.changes[full_key]
