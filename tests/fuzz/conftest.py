"""Fixtures of the property-based suites: a live ``kinto start`` per backend.

:func:`fuzz_server` runs one real server process per backend (memory, SQLite,
PostgreSQL) with every plugin that adds endpoints to ``/v1/__api__`` (except
``flush``, which would empty the seeded data mid-run), seeded with
:data:`SEEDED` objects so that generated paths can name existing ones.

How hard the suites search is set by environment variables (:mod:`.knobs`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.backends import BACKEND_PARAMS, sql_backend
from tests.server import KintoServer, basicauth_userid, sql_settings, write_ini

ALICE_CREDENTIALS = ("alice", "secret")
BOB_CREDENTIALS = ("bob", "secret")

PLUGINS = {
    "kinto.includes": "kinto.plugins.default_bucket kinto.plugins.history kinto.plugins.accounts",
    "multiauth.policies": "account basicauth",
    "multiauth.policy.account.use": "kinto.plugins.accounts.AccountsPolicy",
    "kinto.account_create_principals": "system.Everyone",
    "kinto.account_bcrypt_rounds": "4",
    "kinto.experimental_permissions_endpoint": "true",
}

SQL_MODULES = {
    "postgresql": "kinto.core.{kind}.postgresql",
    "sqlite": "kinto_clone.core.{kind}.sqlite",
}

# Alice's objects: ``shared`` can be read and written by every authenticated
# user, ``private`` by her alone (generated requests meet both 403 and 404).
SEEDED = {
    "bucket_id": ["shared", "private"],
    "collection_id": ["c"],
    "id": ["shared", "private", "c", "g", "r", "alice"],
}


@dataclass
class FuzzServer:
    """A seeded server of one backend, and the requests sent to it."""

    backend: str
    server: KintoServer
    requests_sent: int = 0

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzServer]:
    backend: str = request.param
    folder = tmp_path_factory.mktemp(f"fuzz-{backend}")
    with _database(request, backend, folder) as url:
        settings = dict(PLUGINS)
        if url:
            settings.update(sql_settings(SQL_MODULES[backend], url))
        with KintoServer(write_ini(folder / "kinto.ini", settings)) as server:
            seed(server.url)
            found = FuzzServer(backend, server)
            yield found
            _REQUEST_COUNTS[backend] = _REQUEST_COUNTS.get(backend, 0) + found.requests_sent


_REQUEST_COUNTS: dict[str, int] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many requests the generated cases sent, per backend (this process only)."""
    if _REQUEST_COUNTS:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(_REQUEST_COUNTS.items()))
        terminalreporter.write_line(f"fuzz requests sent: {counts}")


@contextmanager
def _database(request: pytest.FixtureRequest, backend: str, folder: Path) -> Iterator[str | None]:
    """The database URL of a backend (``None`` for memory), migrated, private
    to the server: a file for SQLite, a schema of the test database for
    PostgreSQL (dropped afterwards)."""
    if backend == "memory":
        yield None
        return
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'kinto.sqlite'}"
        with sql_backend(backend, url):
            pass
        yield url
        return
    base = sa.make_url(request.getfixturevalue("postgresql_url"))
    schema = f"kinto_fuzz_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    try:
        options = {"options": f"-csearch_path={schema}"}
        url = base.update_query_dict(options).render_as_string(hide_password=False)
        with sql_backend(backend, url):
            pass
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()


def seed(url: str) -> None:
    """Alice's buckets ``shared`` and ``private``, each with collection ``c``
    (record ``r``) and group ``g``."""
    session = requests.Session()
    session.auth = ALICE_CREDENTIALS
    authenticated = {"read": ["system.Authenticated"], "write": ["system.Authenticated"]}
    for bucket in SEEDED["bucket_id"]:
        permissions = authenticated if bucket == "shared" else {}
        base = f"{url}/v1/buckets/{bucket}"
        for path, body in [
            ("", {"permissions": permissions}),
            ("/collections/c", {}),
            ("/collections/c/records/r", {"data": {"title": "seeded"}}),
            (
                "/groups/g",
                {"data": {"members": ["basicauth:" + basicauth_userid(*BOB_CREDENTIALS)]}},
            ),
        ]:
            session.put(base + path, json=body).raise_for_status()
