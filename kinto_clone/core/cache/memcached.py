"""Cache backend on Memcached servers, with Kinto 26.5.0's settings.

Enable with::

    kinto.cache_backend = kinto.core.cache.memcached
    kinto.cache_hosts = 127.0.0.1:11211 127.0.0.1:11212
    kinto.cache_prefix = stack1_      # optional

Without ``cache_hosts``, the servers are read from ``kinto.cache_url``, where
Kinto's ``kinto init --cache-backend memcached`` writes them.
Several hosts share the keys by hashing (pymemcache's ``HashClient``).  Each
value is stored as ``{"value": ..., "expires_at": ...}``: Memcached cannot tell
a key's remaining life, and counts it in whole seconds, so the precise expiry
is kept with the value and checked on read (the server's own expiry, a second
later, only frees the memory).  A transaction's writes reach the servers when
it commits (:mod:`.buffered`), one command per key: Memcached has no
multi-key transaction.  Flushing empties the servers whatever the prefix, as
in Kinto: Memcached cannot list keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Iterator

from pymemcache.client.hash import HashClient
from pymemcache.exceptions import MemcacheError
from pyramid.config import Configurator
from pyramid.settings import aslist

from kinto_clone.core.cache.buffered import BufferedCache, Change, Entry
from kinto_clone.core.storage import BackendError

__all__ = ["MemcachedCache", "create_client", "load_from_config"]

DEFAULT_HOSTS = "127.0.0.1:11211"
CONNECT_TIMEOUT_SECONDS = 5
MAX_KEY_LENGTH = 250
# Memcached reads expiries above 30 days as absolute dates.
MAX_RELATIVE_EXPIRY = 30 * 24 * 3600
# A stored document: ``{"value": <JSON value>, "expires_at": <seconds>}``.
VALUE_HEAD = '{"value": '
EXPIRY_HEAD = ', "expires_at": '


@contextlib.contextmanager
def _backend_errors() -> Iterator[None]:
    try:
        yield
    except (MemcacheError, OSError) as error:
        raise BackendError(original=error) from error


def _server_expiry(expires_at: float, now: float) -> int:
    """The server-side expiry: one second after the real one, never ``0`` (forever)."""
    seconds = math.ceil(expires_at - now) + 1
    if seconds > MAX_RELATIVE_EXPIRY:
        return math.ceil(expires_at) + 1
    return max(seconds, 1)


def _entry(stored: bytes) -> Entry | None:
    """The entry of a stored document, cut out of the layout ``_write`` gives it
    rather than decoded: the value is decoded once, by ``get``.  The expiry is
    the document's last member, so the value (whatever it holds) ends at the
    last ``EXPIRY_HEAD``.  A document in another layout (not written by this
    backend) is a miss."""
    document = stored.decode("utf-8")
    value_end = document.rfind(EXPIRY_HEAD)
    if not document.startswith(VALUE_HEAD) or value_end < 0 or not document.endswith("}"):
        return None
    try:
        expires_at = float(document[value_end + len(EXPIRY_HEAD) : -1])
    except ValueError:
        return None
    return Entry(document[len(VALUE_HEAD) : value_end], expires_at)


def server_key(full_key: str) -> str:
    """``full_key``, or its digest when Memcached would refuse it (too long,
    spaces, control or non-ASCII characters)."""
    acceptable = full_key.isascii() and full_key.isprintable() and " " not in full_key
    if acceptable and len(full_key) <= MAX_KEY_LENGTH:
        return full_key
    return "sha256:" + hashlib.sha256(full_key.encode("utf-8")).hexdigest()


class MemcachedCache(BufferedCache):
    """See the module docstring."""

    def __init__(self, client: HashClient, cache_prefix: str = "") -> None:
        super().__init__(cache_prefix=cache_prefix)
        self._client = client

    def _server_key(self) -> object:
        return id(self._client)

    def healthcheck(self) -> bool:
        try:
            for server in self._client.clients.values():
                server.version()
        except (MemcacheError, OSError):
            return False
        return True

    def _read(self, full_key: str) -> Entry | None:
        with _backend_errors():
            stored = self._client.get(server_key(full_key))
        return None if stored is None else _entry(stored)

    def _take(self, full_key: str) -> Entry | None:
        # Memcached has no "get and delete": of the callers that read the
        # entry, only the one whose ``delete`` finds it has taken it.
        key = server_key(full_key)
        with _backend_errors():
            stored = self._client.get(key)
            if stored is None or not self._client.delete(key):
                return None
        return _entry(stored)

    def _write(self, changes: dict[str, Change], flushed_prefixes: set[str]) -> None:
        with _backend_errors():
            if flushed_prefixes:
                self._client.flush_all()
            now = time.time()
            for full_key, entry in changes.items():
                if entry is None or entry.expires_at <= now:
                    self._client.delete(server_key(full_key))
                    continue
                document = f"{VALUE_HEAD}{entry.encoded}{EXPIRY_HEAD}{entry.expires_at!r}}}"
                expire = _server_expiry(entry.expires_at, now)
                self._client.set(server_key(full_key), document.encode("utf-8"), expire=expire)


def create_client(hosts: str) -> HashClient:
    """A client sharing keys among ``hosts`` (``host:port`` separated by spaces)."""
    servers = []
    for host in aslist(hosts or DEFAULT_HOSTS):
        name, _, port = host.rpartition(":")
        servers.append((name, int(port)) if name else (host, 11211))
    return HashClient(
        servers,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        timeout=CONNECT_TIMEOUT_SECONDS,
        # Report unreachable servers instead of silently answering misses.
        ignore_exc=False,
        retry_attempts=1,
        retry_timeout=0,
        dead_timeout=0,
        # One connection per thread at a time: waitress serves in threads.
        use_pooling=True,
        default_noreply=False,
    )


def load_from_config(config: Configurator) -> MemcachedCache:
    settings = config.get_settings()
    client = create_client(settings.get("cache_hosts") or settings.get("cache_url") or "")
    return MemcachedCache(client, cache_prefix=settings.get("cache_prefix", ""))
