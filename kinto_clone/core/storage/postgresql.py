"""Storage backend on PostgreSQL, for production.

Enable with ``kinto.storage_backend = kinto.core.storage.postgresql`` and
``kinto.storage_url = postgresql://user:password@host/database``; create or
upgrade its tables with ``kinto migrate``.  The implementation, shared with
SQLite, is :class:`kinto_clone.core.sql.storage.SQLStorage`.
"""

from __future__ import annotations

from pyramid.config import Configurator

from kinto_clone.core.sql import storage
from kinto_clone.core.sql.dialects import POSTGRESQL

__all__ = ["load_from_config"]


def load_from_config(config: Configurator) -> storage.SQLStorage:
    return storage.load_from_config(config, POSTGRESQL)
