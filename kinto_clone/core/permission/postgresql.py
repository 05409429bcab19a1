"""Permission backend on PostgreSQL, for production.

Enable with ``kinto.permission_backend = kinto.core.permission.postgresql`` and
``kinto.permission_url = postgresql://user:password@host/database``; create or
upgrade its tables with ``kinto migrate``.  The implementation, shared with
SQLite, is :class:`kinto_clone.core.sql.permission.SQLPermission`.
"""

from __future__ import annotations

from pyramid.config import Configurator

from kinto_clone.core.sql import permission
from kinto_clone.core.sql.dialects import POSTGRESQL

__all__ = ["load_from_config"]


def load_from_config(config: Configurator) -> permission.SQLPermission:
    return permission.load_from_config(config, POSTGRESQL)
