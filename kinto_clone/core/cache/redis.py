"""Cache backend on a Redis server, with Kinto 26.5.0's settings.

Enable with::

    kinto.cache_backend = kinto.core.cache.redis
    kinto.cache_url = redis://localhost:6379/1
    kinto.cache_pool_size = 50        # optional: connections at most
    kinto.cache_pool_timeout = 30     # optional: seconds to wait for a free one
    kinto.cache_prefix = stack1_      # optional: several deployments on one database

Values are JSON text stored with ``PSETEX`` (millisecond expiry, the server
drops them), as Kinto stores them.  A transaction's writes reach the server
when it commits, in one ``MULTI``/``EXEC`` block (:mod:`.buffered`).  Flushing
removes the keys under ``kinto.cache_prefix``, or the whole database without
a prefix (Kinto always empties the database).  Redis errors become
:class:`~kinto_clone.core.storage.BackendError` (503 responses).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

import redis
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from kinto_clone.core.cache.buffered import BufferedCache, Change, Entry
from kinto_clone.core.storage import BackendError

__all__ = ["RedisCache", "create_client", "load_from_config"]

DEFAULT_URL = "redis://localhost:6379/0"
SCAN_BATCH = 500


@contextlib.contextmanager
def _backend_errors() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as error:
        raise BackendError(original=error) from error


def _glob_escape(prefix: str) -> str:
    """``prefix`` as a literal in a ``SCAN MATCH`` pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix)


class RedisCache(BufferedCache):
    """See the module docstring."""

    def __init__(self, client: redis.Redis, cache_prefix: str = "") -> None:
        super().__init__(cache_prefix=cache_prefix)
        self._client = client

    def _server_key(self) -> object:
        return id(self._client.connection_pool)

    def healthcheck(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def _read(self, full_key: str) -> Entry | None:
        with _backend_errors():
            pipeline = self._client.pipeline(transaction=False)
            pipeline.get(full_key)
            pipeline.pttl(full_key)
            value, pttl = pipeline.execute()
        if value is None:
            return None
        # A key without expiry (written by someone else) never expires.
        remaining = pttl / 1000 if pttl >= 0 else float("inf")
        return Entry(value.decode("utf-8"), time.time() + remaining)

    def _take(self, full_key: str) -> Entry | None:
        # GET and DEL in one MULTI block: as atomic as GETDEL, which needs Redis 6.2.
        with _backend_errors():
            pipeline = self._client.pipeline(transaction=True)
            pipeline.get(full_key)
            pipeline.delete(full_key)
            value, _ = pipeline.execute()
        # Redis never answers an expired key.
        return None if value is None else Entry(value.decode("utf-8"), math.inf)

    def _keys_under(self, prefix: str) -> list[bytes]:
        pattern = _glob_escape(prefix) + "*"
        return list(self._client.scan_iter(match=pattern, count=SCAN_BATCH))

    def _write(self, changes: dict[str, Change], flushed_prefixes: set[str]) -> None:
        with _backend_errors():
            doomed = [key for p in flushed_prefixes if p for key in self._keys_under(p)]
            pipeline = self._client.pipeline(transaction=True)
            if "" in flushed_prefixes:
                pipeline.flushdb()
            if doomed:
                pipeline.delete(*doomed)
            now = time.time()
            for full_key, entry in changes.items():
                milliseconds = 0 if entry is None else int((entry.expires_at - now) * 1000)
                if entry is None or milliseconds <= 0:
                    pipeline.delete(full_key)
                else:
                    pipeline.psetex(full_key, milliseconds, entry.encoded)
            pipeline.execute()


def create_client(url: str, pool_size: str | None, pool_timeout: str | None) -> redis.Redis:
    """A client on a blocking pool, from Kinto's ``*_url``/``*_pool_*`` settings.

    The URL is read by redis itself: every form it accepts works (``rediss://``,
    ``unix://``, the database in the path or in ``?db=``, user and password).
    """
    options: dict[str, object] = {}
    if pool_size not in (None, ""):
        options["max_connections"] = int(pool_size)
    if pool_timeout not in (None, ""):
        options["timeout"] = float(pool_timeout)
    try:
        pool = redis.BlockingConnectionPool.from_url(url or DEFAULT_URL, **options)
    except ValueError as error:
        raise ConfigurationError(f"Invalid Redis URL {url!r}: {error}") from error
    return redis.Redis(connection_pool=pool)


def load_from_config(config: Configurator) -> RedisCache:
    settings = config.get_settings()
    client = create_client(
        settings.get("cache_url", ""),
        settings.get("cache_pool_size"),
        settings.get("cache_pool_timeout"),
    )
    return RedisCache(client, cache_prefix=settings.get("cache_prefix", ""))
