from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.backends import BACKEND_PARAMS, AppBackend, AppCache, empty_backend, sql_backend
from tests.ci import normalize_ci_variable, skip_or_fail
from tests.s3_server import S3Server, moto_server
from tests.server import KintoServer, StartServer, write_ini


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KintoServer]:
    """A real ``kinto start`` process with the default test ini, shared by the session."""
    ini_path = write_ini(tmp_path_factory.mktemp("live-server") / "kinto.ini")
    with KintoServer(ini_path) as server:
        yield server


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers with custom inis; all are stopped when the test ends.

    ``start_server(settings)`` overrides default ini settings (``None`` removes one);
    ``start_server(ini_path=...)`` runs an existing file unchanged; ``env`` adds
    environment variables; ``options`` more ``kinto start`` options.
    """
    servers: list[KintoServer] = []

    def start(
        settings: Mapping[str, str | None] | None = None,
        *,
        ini_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        options: Sequence[str] = (),
    ) -> KintoServer:
        if ini_path is None:
            folder = tmp_path / f"server-{len(servers)}"
            folder.mkdir()
            ini_path = write_ini(folder / "kinto.ini", settings)
        server = KintoServer(ini_path, env=env, options=options)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on loopback, shared by the session (attachments on S3)."""
    with moto_server() as server:
        yield server


POSTGRESQL_DSN_VARIABLE = "KINTO_TEST_POSTGRESQL_DSN"
DEFAULT_POSTGRESQL_DSN = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRESQL_UNREACHABLE = "PostgreSQL unreachable at"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Report every test skipped for want of PostgreSQL at one place, so that
    ``-ra`` folds them into a single line instead of one per test."""
    report: pytest.TestReport = yield
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and POSTGRESQL_UNREACHABLE in longrepr[2]:
        report.longrepr = (__file__, None, longrepr[2])
    return report


def pytest_configure(config: pytest.Config) -> None:
    normalize_ci_variable()


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """URL of an empty PostgreSQL schema private to this test process.

    The server is ``$KINTO_TEST_POSTGRESQL_DSN`` (default: the local ``test``
    database).  Each test process (pytest-xdist worker) gets its own schema,
    selected through ``search_path`` and dropped at the end.  Without a
    reachable server the tests using it are skipped, except under ``CI=true``
    where they fail.
    """
    dsn = os.environ.get(POSTGRESQL_DSN_VARIABLE, DEFAULT_POSTGRESQL_DSN)
    # Unique per run: other test runs may use the same server at the same time.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    schema = f"kinto_test_{worker}_{uuid.uuid4().hex[:8]}"
    url = sa.make_url(dsn).set(drivername="postgresql+psycopg2")
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.execute(sa.schema.CreateSchema(schema))
    except sa.exc.OperationalError as error:
        cause = str(error.orig).strip().splitlines()[0]
        reason = f"{POSTGRESQL_UNREACHABLE} {dsn} (set {POSTGRESQL_DSN_VARIABLE}): {cause}"
        skip_or_fail(reason)
    yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    with admin.begin() as connection:
        connection.execute(sa.schema.DropSchema(schema, cascade=True, if_exists=True))
    admin.dispose()


@pytest.fixture
def empty_postgresql_url(postgresql_url: str) -> Iterator[str]:
    """A fresh, empty schema of the test database, dropped after the test."""
    schema = f"kinto_empty_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(sa.make_url(postgresql_url), poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema))
    url = sa.make_url(postgresql_url).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(sa.schema.DropSchema(schema, cascade=True))
    admin.dispose()


@pytest.fixture(scope="session")
def postgresql_app_backend(postgresql_url: str) -> Iterator[AppBackend]:
    """The PostgreSQL backends on this test process's schema, migrated once."""
    with sql_backend("postgresql", postgresql_url) as backend:
        yield backend


@pytest.fixture(scope="session")
def sqlite_app_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppBackend]:
    """The SQLite backends on one database file of this test process."""
    path = tmp_path_factory.mktemp("sqlite-apps") / "kinto.sqlite"
    with sql_backend("sqlite", f"sqlite:///{path}") as backend:
        yield backend


@pytest.fixture(scope="session")
def app_cache() -> Iterator[AppCache]:
    """Apps reused by the tests of this process (:class:`tests.backends.AppCache`)."""
    cache = AppCache()
    yield cache
    cache.close()


@pytest.fixture(params=BACKEND_PARAMS)
def app_backend(request: pytest.FixtureRequest) -> AppBackend:
    """The backends of a test, one run per backend (see :mod:`tests.backends`).

    The SQL databases are shared by the tests of a process: they are emptied
    here, before each test, so every test starts from nothing as on memory.
    """
    return empty_backend(request, request.param)
