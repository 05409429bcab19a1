"""Several ``kinto`` processes on one database, as behind a load balancer.

``tests/functional/test_concurrency.py`` runs its writers against one process,
where threads could, in principle, lean on something held in memory.  Separate
processes share only the database, so here the guarantees must come from it
alone.  The scenario (:mod:`tests.sync_scenario`) sends each writer's POSTs
and the reader's polls to every server in turn.

Four servers share a PostgreSQL database created for the test; two share one
SQLite file (one writer at a time, but several processes must stay correct).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa
from psycopg2 import sql

from tests.ci import skip_or_fail
from tests.conftest import (
    DEFAULT_POSTGRESQL_DSN,
    POSTGRESQL_DSN_VARIABLE,
    POSTGRESQL_UNREACHABLE,
)
from tests.server import KintoServer, StartServer, migrate, sql_settings, write_ini
from tests.sync_scenario import check_concurrent_writes

pytestmark = pytest.mark.process


@pytest.fixture
def postgresql_database() -> Iterator[str]:
    """URL of a database created for the test, dropped after it.

    A database of its own rather than a schema of the shared test database, so
    that nothing of another test can be seen by the servers; ``WITH (FORCE)``
    drops it even when a server still holds connections.  Skipped without a
    reachable server, except under ``CI=true`` where it fails.
    """
    dsn = os.environ.get(POSTGRESQL_DSN_VARIABLE, DEFAULT_POSTGRESQL_DSN)
    # libpq does not know SQLAlchemy's ``postgresql+psycopg2://``.
    server = sa.make_url(dsn).set(drivername="postgresql")
    name = f"kinto_mp_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg2.connect(server.render_as_string(hide_password=False), connect_timeout=3)
    except psycopg2.OperationalError as error:
        cause = str(error).strip().splitlines()[0]
        reason = f"{POSTGRESQL_UNREACHABLE} {dsn} (set {POSTGRESQL_DSN_VARIABLE}): {cause}"
        skip_or_fail(reason)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.cursor() as cursor:
                statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                cursor.execute(statement.format(sql.Identifier(name)))
    finally:
        admin.close()


def postgresql_ini(tmp_path: Path, url: str) -> Path:
    """An ini of ``tmp_path`` with every backend on the PostgreSQL database ``url``,
    migrated."""
    settings = sql_settings("kinto.core.{kind}.postgresql", url)
    ini_path = write_ini(tmp_path / "kinto.ini", settings)
    migrate(ini_path)
    return ini_path


def start_servers(start_server: StartServer, ini_path: Path, count: int) -> list[KintoServer]:
    """``count`` processes of one ini, started together (each waits for its port)."""
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: start_server(ini_path=ini_path), range(count)))


@pytest.mark.postgresql
def test_four_processes_on_one_postgresql_database(
    tmp_path: Path, postgresql_database: str, start_server: StartServer
) -> None:
    ini_path = postgresql_ini(tmp_path, postgresql_database)
    check_concurrent_writes([server.url for server in start_servers(start_server, ini_path, 4)])


def test_two_processes_on_one_sqlite_file(tmp_path: Path, start_server: StartServer) -> None:
    settings = sql_settings("kinto_clone.core.{kind}.sqlite", f"sqlite:///{tmp_path / 'kinto.db'}")
    ini_path = write_ini(tmp_path / "kinto.ini", settings)
    # Both create the schema of the new file at the same time: one must wait.
    check_concurrent_writes([server.url for server in start_servers(start_server, ini_path, 2)])
