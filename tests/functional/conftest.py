"""Fixtures of the functional tests: the WSGI app under WebTest, and its users.

Every test gets an empty in-process app (Basic Auth, the default bucket plugin)
from :func:`make_app`, and runs once per backend: memory, PostgreSQL and
SQLite (``[memory]``, ``[postgresql]``, ``[sqlite]`` in its id; see
:mod:`tests.backends`).

Checking the tests against Kinto itself: with ``FUNCTIONAL_REFERENCE_URL`` set to
a running Kinto 26.5.0 (memory backends, ``multiauth.policies = basicauth``,
``kinto.includes = kinto.plugins.default_bucket kinto.plugins.flush`` and the
secrets of :mod:`tests.functional.helpers`), the same tests are sent to it over
HTTP instead (their ``[memory]`` runs only); it is flushed before each test.
Tests needing other settings, and those marked ``clone_only`` (where this
server deliberately differs from Kinto), are skipped in that mode.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import requests
import webob
import webtest
from pyramid.registry import Registry

import kinto_clone
from tests.backends import AppBackend, AppCache, dispose_apps
from tests.functional.helpers import ALICE, DEFAULT_BUCKET_HMAC_SECRET, USERID_HMAC_SECRET

REFERENCE_URL = os.environ.get("FUNCTIONAL_REFERENCE_URL", "").rstrip("/")

BASE_SETTINGS: dict[str, str] = {
    "kinto.includes": "kinto.plugins.default_bucket",
    "multiauth.policies": "basicauth",
    "kinto.userid_hmac_secret": USERID_HMAC_SECRET,
    "kinto.default_bucket_hmac_secret": DEFAULT_BUCKET_HMAC_SECRET,
}

# Dropped when relaying a remote answer: WSGI and ``requests`` handle them.
_HOP_BY_HOP = {"connection", "content-encoding", "content-length", "transfer-encoding"}


class RemoteServer:
    """A WSGI app relaying each request to a running server, for WebTest."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def flush(self) -> None:
        self.session.post(f"{self.url}/v1/__flush__").raise_for_status()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = webob.Request(environ)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        response = self.session.request(
            request.method,
            self.url + request.path_qs,
            headers=headers,
            data=request.body,
            allow_redirects=False,
        )
        relayed = [
            (name, value)
            for name, value in response.raw.headers.items()
            if name.lower() not in _HOP_BY_HOP
        ]
        start_response(f"{response.status_code} {response.reason}", relayed)
        return [response.content]


MakeApp = Callable[..., webtest.TestApp]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clone_only: deliberate difference from Kinto 26.5.0 (not run against it)"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("app_backend", "memory") if callspec else "memory"
    if REFERENCE_URL and backend != "memory":
        # Skipped before its fixtures: no database is set up for nothing.
        pytest.skip("the reference server runs on its own backends")


@pytest.fixture
def make_app(
    request: pytest.FixtureRequest, app_backend: AppBackend, app_cache: AppCache
) -> Iterator[MakeApp]:
    """``make_app(**settings)``: an empty app on the test's backend, ``settings``
    added to :data:`BASE_SETTINGS`.

    ``kinto.includes`` given here are loaded in addition to the default bucket.
    An app of a previous test with the same settings is reused, emptied
    (:class:`tests.backends.AppCache`); asking twice in one test gives two
    apps.  Apps made by one test share the data of SQL backends (as two
    processes on one database would); memory apps each have their own.
    """
    if REFERENCE_URL and request.node.get_closest_marker("clone_only"):
        pytest.skip("deliberate difference from Kinto 26.5.0")
    registries: list[Registry] = []
    used: list[dict[str, str]] = []

    def make(**overrides: str) -> webtest.TestApp:
        if REFERENCE_URL:
            if overrides:
                pytest.skip("needs settings the reference server does not have")
            remote = RemoteServer(REFERENCE_URL)
            remote.flush()
            return webtest.TestApp(remote)
        settings = {**BASE_SETTINGS, **app_backend.settings, **overrides}
        if "kinto.includes" in overrides:
            settings["kinto.includes"] = " ".join(
                [BASE_SETTINGS["kinto.includes"], overrides["kinto.includes"]]
            )
        if settings in used:
            app = kinto_clone.main({}, **settings)
            registries.append(app.registry)
        else:
            used.append(settings)
            app = app_cache.get(app_backend, settings)
        return webtest.TestApp(app)

    yield make
    dispose_apps(registries)


@pytest.fixture
def app(make_app: MakeApp) -> webtest.TestApp:
    return make_app()


@pytest.fixture
def tree(app: webtest.TestApp) -> webtest.TestApp:
    """Alice's bucket ``b`` with group ``g``, collection ``c`` and record ``r``.

    Nobody else has any permission on them.
    """
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/groups/g", {"data": {"members": []}}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c/records/r", {"data": {"x": 1}}, headers=ALICE)
    return app


@pytest.fixture
def empty_collection(app: webtest.TestApp) -> webtest.TestApp:
    """Alice's bucket ``b`` holding the empty collection ``c`` (sync and query tests)."""
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    return app
