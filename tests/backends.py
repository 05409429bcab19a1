"""The backends the in-process apps of the functional and plugin tests run on.

The ``app_backend`` fixture of ``tests/conftest.py`` runs each test using it once
per backend: ``[memory]``, ``[postgresql]`` and ``[sqlite]`` in the test ids.
Building a schema or a database per test would be slow: the SQL backends use
one PostgreSQL schema (the ``postgresql_url`` of the test process) and one
SQLite file per test process, created once and emptied before each test.  Every
app gets its own engines (as a server process would), disposed of when the app
is dropped (:func:`dispose_engines`) so that connections do not pile up: at the
end of the test for the plugin tests, when it leaves the :class:`AppCache` (or
at the end of the test process) for the functional tests, whose apps are kept
from one test to the next.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.router import Router

import kinto_clone
from kinto_clone.core import transaction
from kinto_clone.core.cache import postgresql as postgresql_cache
from kinto_clone.core.cache import sqlite as sqlite_cache
from kinto_clone.core.permission import postgresql as postgresql_permission
from kinto_clone.core.permission import sqlite as sqlite_permission
from kinto_clone.core.storage import postgresql as postgresql_storage
from kinto_clone.core.storage import sqlite as sqlite_storage
from tests.server import sql_settings

KINDS = ("storage", "permission", "cache")

MEMORY_SETTINGS: dict[str, str] = {
    f"kinto.{kind}_backend": f"kinto.core.{kind}.memory" for kind in KINDS
}

# The modules a server is configured with: Kinto's names where Kinto has the
# backend (PostgreSQL), this project's for SQLite.
_MODULES = {
    "postgresql": "kinto.core.{kind}.postgresql",
    "sqlite": "kinto_clone.core.{kind}.sqlite",
}
_LOADERS = {
    "postgresql": (postgresql_storage, postgresql_permission, postgresql_cache),
    "sqlite": (sqlite_storage, sqlite_permission, sqlite_cache),
}


@dataclass
class AppBackend:
    """A backend of the matrix: the settings selecting it, and a way to empty it."""

    name: str
    settings: dict[str, str]
    # The session's own storage, permission and cache backends (SQL only).
    backends: tuple[Any, ...] = field(default=())

    def flush(self) -> None:
        flush_backends(self.backends)


MEMORY = AppBackend("memory", MEMORY_SETTINGS)

# The params of a fixture running its tests once per backend.
BACKEND_PARAMS = ["memory", pytest.param("postgresql", marks=pytest.mark.postgresql), "sqlite"]


def empty_backend(request: pytest.FixtureRequest, name: str) -> AppBackend:
    """The ``name`` backend of this test process, emptied.

    The SQL ones come from the session fixtures ``postgresql_app_backend`` and
    ``sqlite_app_backend`` of ``tests/conftest.py``: a PostgreSQL server that
    cannot be reached skips (fails under ``CI=true``) as ``postgresql_url`` does.
    """
    if name == "memory":
        return MEMORY
    backend: AppBackend = request.getfixturevalue(f"{name}_app_backend")
    backend.flush()
    return backend


@contextmanager
def sql_backend(name: str, url: str) -> Iterator[AppBackend]:
    """The ``name`` backends on the database at ``url``, its schema created."""
    settings = sql_settings(_MODULES[name], url)
    config = Configurator(
        settings={**{f"{kind}_url": url for kind in KINDS}, "skip_schema_check": True}
    )
    backends = tuple(module.load_from_config(config) for module in _LOADERS[name])
    try:
        for backend in backends:
            backend.initialize_schema()
        yield AppBackend(name, settings, backends)
    finally:
        dispose_engines(config.registry)


def flush_backends(backends: Iterable[Any]) -> None:
    # One transaction, hence one connection and one commit, for them all.
    with transaction.atomic():
        for backend in backends:
            backend.flush()


class AppCache:
    """Apps kept from one test to the next of a process, by settings.

    Building an app costs more than most tests (pyramid configuration, and for
    SQL a new engine, schema checks and statements compiled afresh): a test
    asking for the settings of a previous one gets its app back, emptied (the
    SQL databases are emptied by ``app_backend``; a memory app's own backends
    here).  The ``size`` most recently used are kept; older ones are dropped
    and their engines disposed of.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._apps: OrderedDict[tuple[tuple[str, str], ...], Router] = OrderedDict()

    def get(self, backend: AppBackend, settings: dict[str, str]) -> Router:
        key = tuple(sorted(settings.items()))
        app = self._apps.pop(key, None)
        if app is None:
            app = kinto_clone.main({}, **settings)
        elif backend is MEMORY:
            registry = app.registry
            flush_backends([registry.storage, registry.permission, registry.cache])
        self._apps[key] = app
        while len(self._apps) > self.size:
            _, dropped = self._apps.popitem(last=False)
            dispose_engines(dropped.registry)
        return app

    def close(self) -> None:
        dispose_apps(app.registry for app in self._apps.values())
        self._apps.clear()


def dispose_engines(registry: Registry) -> None:
    """Close the pooled connections of the SQL backends of ``registry``."""
    for engine in getattr(registry, "sql_engines", {}).values():
        engine.dispose()


def dispose_apps(registries: Iterable[Registry]) -> None:
    for registry in registries:
        dispose_engines(registry)
