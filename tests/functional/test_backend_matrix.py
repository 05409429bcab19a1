"""The functional tests really run on the backend their id names."""

from __future__ import annotations

import webtest

from tests.backends import AppBackend
from tests.functional.helpers import ALICE

CLASSES = {
    "memory": ("MemoryStorage", "MemoryPermission", "MemoryCache"),
    "postgresql": ("SQLStorage", "SQLPermission", "SQLCache"),
    "sqlite": ("SQLStorage", "SQLPermission", "SQLCache"),
}


def test_the_app_runs_on_the_backend_of_the_test_id(
    app: webtest.TestApp, app_backend: AppBackend
) -> None:
    registry = app.app.registry
    backends = (registry.storage, registry.permission, registry.cache)
    assert tuple(type(backend).__name__ for backend in backends) == CLASSES[app_backend.name]
    engines = getattr(registry, "sql_engines", {}).values()
    assert [engine.dialect.name for engine in engines] == (
        [] if app_backend.name == "memory" else [app_backend.name]
    )


def test_the_app_starts_empty(app: webtest.TestApp) -> None:
    """Data of an earlier test (reused apps, shared databases) is gone."""
    assert app.get("/v1/buckets?_since=0", headers=ALICE).json["data"] == []
    app.put_json("/v1/buckets/left-over", {}, headers=ALICE)
