"""Cache backend in a SQLite file: durable, embedded, one server process.

Enable with ``kinto.cache_backend = kinto_clone.core.cache.sqlite`` and
``kinto.cache_url = sqlite:///path/to/kinto.sqlite`` (usually the storage
file: backends on one file share its connections and commit together).  The
tables are created on first start.  The implementation, shared with
PostgreSQL, is :class:`kinto_clone.core.sql.cache.SQLCache`.
"""

from __future__ import annotations

from pyramid.config import Configurator

from kinto_clone.core.sql import cache
from kinto_clone.core.sql.dialects import SQLITE

__all__ = ["load_from_config"]


def load_from_config(config: Configurator) -> cache.SQLCache:
    return cache.load_from_config(config, SQLITE)
