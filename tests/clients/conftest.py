"""What the client suites share: the backends they run on, tools and downloads.

Each suite drives a real ``kinto`` process (see ``tests/server.py``) with a client
used unchanged: kinto-http.py, kinto.js with kinto-http.js, httpie.  Every suite
runs once per backend: the memory backends, SQLite (the default) in a file of
its own, and PostgreSQL in a database created for that server alone
(``$KINTO_TEST_POSTGRESQL_DSN`` names the PostgreSQL server).

A missing Node.js, npm or PostgreSQL, or a failed download, skips the suite with
one line saying why; under CI (``CI=true``, ``1``, ``yes``...) it fails it instead.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa

from tests.ci import in_ci
from tests.server import kinto_command, sql_settings

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "clients"
"""Downloads of the client suites (git-ignored), reused from one run to the next."""

POSTGRESQL_DSN_VARIABLE = "KINTO_TEST_POSTGRESQL_DSN"
DEFAULT_POSTGRESQL_DSN = "postgresql://postgres@127.0.0.1:5432/test"
MIGRATE_TIMEOUT = 120


def unavailable(problem: str, suite: str) -> NoReturn:
    """Skip ``suite`` for a missing tool or service; fail instead under CI."""
    if in_ci():
        pytest.fail(f"{problem}: {suite} cannot run, and CI requires it", pytrace=False)
    pytest.skip(f"{problem}: {suite} skipped")


@contextmanager
def cache_lock(name: str) -> Iterator[Path]:
    """Serialize a download or an install between pytest-xdist workers and runs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield CACHE
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a child: no ``KINTO_*`` nor ``PYTEST_*`` variables."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KINTO_", "PYTEST_"))
    }
    return {**inherited, **(extra or {})}


@dataclass
class Backend:
    """Storage, permission and cache backends of one server.

    ``settings`` go into inis the tests write; ``env`` is the same as ``KINTO_*``
    variables, for inis that must run unchanged.
    """

    name: str
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            "KINTO_" + key.removeprefix("kinto.").replace(".", "_").upper(): value
            for key, value in self.settings.items()
        }

    def ini_settings(self) -> dict[str, str]:
        """``settings`` escaped for an ini (``%`` starts an interpolation there)."""
        return {key: value.replace("%", "%%") for key, value in self.settings.items()}

    def migrate(self, ini_path: Path, env: Mapping[str, str] | None = None) -> None:
        """``kinto migrate --ini``, as an administrator runs it before the first start."""
        result = subprocess.run(
            [*kinto_command(), "migrate", "--ini", str(ini_path)],
            cwd=ini_path.parent,
            env=clean_environment(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=MIGRATE_TIMEOUT,
        )
        assert result.returncode == 0, (
            f"kinto migrate failed ({result.returncode}) on {self.name}:\n"
            f"{result.stdout}\n{result.stderr}"
        )


MEMORY_SETTINGS = {
    "kinto.storage_backend": "kinto.core.storage.memory",
    "kinto.permission_backend": "kinto.core.permission.memory",
    "kinto.cache_backend": "kinto.core.cache.memory",
}


@contextmanager
def postgresql_database() -> Iterator[str]:
    """A new empty database on the test PostgreSQL server; dropped afterwards."""
    dsn = os.environ.get(POSTGRESQL_DSN_VARIABLE, DEFAULT_POSTGRESQL_DSN)
    name = f"kinto_clients_{uuid.uuid4().hex[:12]}"
    server = sa.make_url(dsn).set(drivername="postgresql+psycopg2")
    admin = sa.create_engine(
        server,
        poolclass=sa.pool.NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        cause = str(error.orig).strip().splitlines()[0]
        unavailable(
            f"PostgreSQL unreachable at {dsn} (set {POSTGRESQL_DSN_VARIABLE}): {cause}",
            "client suites on PostgreSQL",
        )
    try:
        yield server.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The backends of the server under test: memory, a fresh SQLite database
    (the default backend), then a fresh PostgreSQL database."""
    if request.param == "memory":
        yield Backend("memory", dict(MEMORY_SETTINGS))
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'clients-db' / 'kinto.sqlite'}"
        yield Backend("sqlite", sql_settings("kinto_clone.core.{kind}.sqlite", url))
        return
    with postgresql_database() as url:
        yield Backend("postgresql", sql_settings("kinto.core.{kind}.postgresql", url))
