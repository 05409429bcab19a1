"""Permission backend in a SQLite file: durable, embedded, one server process.

Enable with ``kinto.permission_backend = kinto_clone.core.permission.sqlite`` and
``kinto.permission_url = sqlite:///path/to/kinto.sqlite`` (usually the storage
file: backends on one file share its connections and commit together).  The
tables are created on first start.  The implementation, shared with
PostgreSQL, is :class:`kinto_clone.core.sql.permission.SQLPermission`.
"""

from __future__ import annotations

from pyramid.config import Configurator

from kinto_clone.core.sql import permission
from kinto_clone.core.sql.dialects import SQLITE

__all__ = ["load_from_config"]


def load_from_config(config: Configurator) -> permission.SQLPermission:
    return permission.load_from_config(config, SQLITE)
