"""Cache backend kept in process memory, for development and tests.

Enable with ``kinto.cache_backend = kinto_clone.core.cache.memory``.

Values are stored JSON-encoded: readers get fresh copies, values that another
backend could not store fail here too, and the encoded length gives the size
that ``cache_max_size_bytes`` bounds.  When a write exceeds it, expired entries go
first, then the least recently written ones.

Writes join the request transaction like the other memory backends, so a failed
request leaves no trace: a pagination token it consumed is usable again.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from pyramid.config import Configurator

from kinto_clone.core import transaction
from kinto_clone.core.cache import CacheBase
from kinto_clone.core.transaction import UndoJournal, shared_memory_lock

DEFAULT_MAX_SIZE_BYTES = 524288

T = TypeVar("T")


class _Entry(NamedTuple):
    encoded: str
    expires_at: float


_Put = Callable[[str, _Entry | None], None]
"""Journaled write of one entry (``None`` removes it)."""


class MemoryCache(CacheBase):
    """Entries in write order, which makes the oldest ones cheap to evict."""

    def __init__(
        self,
        cache_prefix: str = "",
        cache_max_size_bytes: int | None = DEFAULT_MAX_SIZE_BYTES,
        lock: threading.RLock | None = None,
    ) -> None:
        super().__init__(cache_prefix=cache_prefix, cache_max_size_bytes=cache_max_size_bytes)
        self._lock = lock if lock is not None else threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self._size = 0

    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        return []

    def healthcheck(self) -> bool:
        return True

    def _live(self, key: str) -> _Entry | None:
        entry = self._entries.get(self.prefix + key)
        if entry is None or entry.expires_at <= time.time():
            return None
        return entry

    def get(self, key: str) -> Any:
        with self._lock:
            entry = self._live(key)
        return None if entry is None else json.loads(entry.encoded)

    def ttl(self, key: str) -> int:
        with self._lock:
            entry = self._live(key)
        if entry is None:
            return -1
        return math.ceil(entry.expires_at - time.time())

    # Writes.  ``_put`` is the single mutation: undoing one is putting back
    # what it replaced.

    def _put(self, full_key: str, entry: _Entry | None) -> _Entry | None:
        previous = self._entries.pop(full_key, None)
        if previous is not None:
            self._size -= len(full_key) + len(previous.encoded)
        if entry is not None:
            self._entries[full_key] = entry
            self._size += len(full_key) + len(entry.encoded)
        return previous

    def _write(self, change: Callable[[_Put], T]) -> T:
        """Run ``change`` with a journaled ``put`` inside the current transaction."""
        with transaction.atomic() as tx:
            journal = tx.join(self._lock, lambda: UndoJournal(self._lock))

            def put(full_key: str, entry: _Entry | None) -> None:
                previous = self._put(full_key, entry)
                if previous != entry:
                    journal.on_abort(lambda: self._put(full_key, previous))

            return change(put)

    def set(self, key: str, value: Any, ttl: float) -> None:
        # ``json.dumps`` rejects bytes with a TypeError, as Kinto's backends do.
        entry = _Entry(json.dumps(value), time.time() + ttl)
        full_key = self.prefix + key

        def change(put: _Put) -> None:
            put(full_key, entry)
            self._evict(put, keep=full_key)

        self._write(change)

    def _evict(self, put: _Put, keep: str) -> None:
        if self.max_size_bytes is None or self._size <= self.max_size_bytes:
            return
        now = time.time()
        for full_key in [k for k, e in self._entries.items() if e.expires_at <= now]:
            put(full_key, None)
        # The entry just written is the newest one: it is kept even when it
        # alone exceeds the limit, so that ``set`` followed by ``get`` works.
        for full_key in list(self._entries):
            if self._size <= self.max_size_bytes or full_key == keep:
                break
            put(full_key, None)

    def expire(self, key: str, ttl: float) -> None:
        full_key = self.prefix + key

        def change(put: _Put) -> None:
            entry = self._entries.get(full_key)
            if entry is not None:
                put(full_key, entry._replace(expires_at=time.time() + ttl))

        self._write(change)

    def delete(self, key: str) -> Any:
        def change(put: _Put) -> _Entry | None:
            entry = self._live(key)
            if self.prefix + key in self._entries:
                put(self.prefix + key, None)
            return entry

        entry = self._write(change)
        return None if entry is None else json.loads(entry.encoded)

    def flush(self) -> None:
        def change(put: _Put) -> None:
            for full_key in list(self._entries):
                put(full_key, None)

        self._write(change)


def load_from_config(config: Configurator) -> MemoryCache:
    settings = config.get_settings()
    max_size = settings.get("cache_max_size_bytes", DEFAULT_MAX_SIZE_BYTES)
    return MemoryCache(
        cache_prefix=settings.get("cache_prefix", ""),
        cache_max_size_bytes=None if max_size is None else int(max_size),
        lock=shared_memory_lock(config.registry),
    )
