"""The cache backend contract: a key/value store with expiry.

Used for pagination nonces, verified account credentials and other short-lived
values.  Values are JSON-serializable; keys are prefixed with ``kinto.cache_prefix``
by the implementations.  One module per implementation exposes
``load_from_config(config)``; the contract suite is :mod:`kinto_clone.core.cache.testing`.
"""

from __future__ import annotations

from typing import Any


class CacheBase:
    def __init__(self, cache_prefix: str = "", cache_max_size_bytes: int | None = None) -> None:
        self.prefix = cache_prefix
        self.max_size_bytes = cache_max_size_bytes

    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def healthcheck(self) -> bool:
        raise NotImplementedError

    def ttl(self, key: str) -> int:
        """Seconds before ``key`` expires; -1 when it has no expiry or is absent."""
        raise NotImplementedError

    def expire(self, key: str, ttl: float) -> None:
        raise NotImplementedError

    def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value``; ``ttl`` is mandatory so nothing lives forever by mistake."""
        raise NotImplementedError

    def get(self, key: str) -> Any:
        """The value, or ``None`` when absent or expired."""
        raise NotImplementedError

    def delete(self, key: str) -> Any:
        """Remove ``key`` and return the value it had (or ``None``)."""
        raise NotImplementedError

    def pop(self, key: str) -> Any:
        """Take ``key``: remove it and return its value (``None`` when absent or
        expired), so that of concurrent takers exactly one gets the value.

        For single-use secrets, such as a login's state.  On the key/value
        servers ``delete`` is not enough: their writes wait for the commit, so
        two requests could both read the value before either removes it, and
        they override this.  On the SQL and memory backends ``delete`` already
        is such a take, inherited here: it removes the entry under their
        transaction's lock, and a concurrent taker waits for it, then finds
        nothing.  Whether a failed request gives the value back follows the
        backend: SQL and memory roll the take back with the transaction; on
        Redis and Memcached the value is gone.
        """
        return self.delete(key)
