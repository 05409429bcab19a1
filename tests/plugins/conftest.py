"""Fixtures of the plugin tests: an in-process app built from settings, and users.

:func:`backend_settings` chooses the backends (memory here); parametrize or
override it to run every plugin test on another backend.  :func:`make_app` adds
the test's own settings on top of :data:`BASE_SETTINGS`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
import webtest

import kinto_clone

USERID_HMAC_SECRET = "plugins-secret"

MEMORY_BACKENDS: dict[str, str] = {
    "kinto.storage_backend": "kinto.core.storage.memory",
    "kinto.permission_backend": "kinto.core.permission.memory",
    "kinto.cache_backend": "kinto.core.cache.memory",
}

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
def backend_settings() -> dict[str, str]:
    """The backends every plugin test runs on."""
    return dict(MEMORY_BACKENDS)


@pytest.fixture
def make_app(backend_settings: dict[str, str]) -> MakeApp:
    """``make_app(settings)``: a fresh app with ``settings`` over the defaults."""

    def make(settings: dict[str, str] | None = None) -> webtest.TestApp:
        merged = {**BASE_SETTINGS, **backend_settings, **(settings or {})}
        app = kinto_clone.main({}, **merged)
        registry = app.registry
        # Backends shared between apps (SQL ones) start empty for each test.
        for backend in (registry.storage, registry.permission, registry.cache):
            backend.flush()
        return webtest.TestApp(app)

    return make


def principal_of(app: webtest.TestApp, headers: dict[str, str]) -> str:
    """The prefixed user id the server gives to these credentials."""
    return app.get("/v1/", headers=headers).json["user"]["id"]
