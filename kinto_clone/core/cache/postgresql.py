"""Cache backend on PostgreSQL, for production.

Enable with ``kinto.cache_backend = kinto.core.cache.postgresql`` and
``kinto.cache_url = postgresql://user:password@host/database``; create or
upgrade its tables with ``kinto migrate``.  The implementation, shared with
SQLite, is :class:`kinto_clone.core.sql.cache.SQLCache`.
"""

from __future__ import annotations

from pyramid.config import Configurator

from kinto_clone.core.sql import cache
from kinto_clone.core.sql.dialects import POSTGRESQL

__all__ = ["load_from_config"]


def load_from_config(config: Configurator) -> cache.SQLCache:
    return cache.load_from_config(config, POSTGRESQL)
