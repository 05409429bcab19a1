"""Fixtures of the plugin tests: an in-process app built from settings, and users.

:func:`backend_settings` chooses the backends: every plugin test runs once per
backend, memory, PostgreSQL and SQLite (``[memory]``, ``[postgresql]``,
``[sqlite]`` in its id; see :mod:`tests.backends`).  :func:`make_app` adds the
test's own settings on top of :data:`BASE_SETTINGS`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest
import webtest
from pyramid.registry import Registry

import kinto_clone
from tests.backends import AppBackend, dispose_apps

USERID_HMAC_SECRET = "plugins-secret"

BASE_SETTINGS: dict[str, str] = {
    "multiauth.policies": "basicauth",
    "kinto.userid_hmac_secret": USERID_HMAC_SECRET,
    "kinto.includes": "",
}

# Kinto's template setup: accounts first, then Basic Auth for everyone else.
ACCOUNTS_SETTINGS: dict[str, str] = {
    "kinto.includes": "kinto.plugins.accounts",
    "multiauth.policies": "account basicauth",
    "multiauth.policy.account.use": "kinto.plugins.accounts.AccountsPolicy",
    "kinto.account_create_principals": "system.Everyone",
    "kinto.account_write_principals": "account:admin",
    # bcrypt's minimum cost: the tests hash many passwords.
    "kinto.account_bcrypt_rounds": "4",
}

MakeApp = Callable[..., webtest.TestApp]


def basic_auth(user: str, password: str = "secret") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def backend_settings(app_backend: AppBackend) -> dict[str, str]:
    """The backends of the test's run (emptied before the test)."""
    return dict(app_backend.settings)


@pytest.fixture
def make_app(backend_settings: dict[str, str]) -> Iterator[MakeApp]:
    """``make_app(settings)``: a fresh app with ``settings`` over the defaults.

    Apps made by one test share the data of SQL backends (as two processes on
    one database would); memory apps each have their own.
    """
    registries: list[Registry] = []

    def make(settings: dict[str, str] | None = None) -> webtest.TestApp:
        merged = {**BASE_SETTINGS, **backend_settings, **(settings or {})}
        app = kinto_clone.main({}, **merged)
        registries.append(app.registry)
        return webtest.TestApp(app)

    yield make
    dispose_apps(registries)


def schema_validation_app(bucket: str) -> webtest.TestApp:
    """An in-process app on the memory backends validating records against their
    collection's schema, with ``bucket`` created by ``alice``."""
    app = webtest.TestApp(
        kinto_clone.main(
            {},
            **{
                "kinto.storage_backend": "kinto.core.storage.memory",
                "kinto.permission_backend": "kinto.core.permission.memory",
                "kinto.cache_backend": "kinto.core.cache.memory",
                "multiauth.policies": "basicauth",
                "kinto.experimental_collection_schema_validation": "true",
            },
        )
    )
    app.put_json(f"/v1/buckets/{bucket}", {}, headers=basic_auth("alice"))
    return app


def principal_of(app: webtest.TestApp, headers: dict[str, str]) -> str:
    """The prefixed user id the server gives to these credentials."""
    return app.get("/v1/", headers=headers).json["user"]["id"]
