"""Storage backend in a SQLite file: durable, embedded, one server process.

Enable with ``kinto.storage_backend = kinto_clone.core.storage.sqlite`` and
``kinto.storage_url = sqlite:///path/to/kinto.sqlite`` (relative to the working
directory; the folder is created).  The tables are created on first start.
The implementation, shared with PostgreSQL, is
:class:`kinto_clone.core.sql.storage.SQLStorage`.
"""

from __future__ import annotations

from pyramid.config import Configurator

from kinto_clone.core.sql import storage
from kinto_clone.core.sql.dialects import SQLITE

__all__ = ["load_from_config"]


def load_from_config(config: Configurator) -> storage.SQLStorage:
    return storage.load_from_config(config, SQLITE)
