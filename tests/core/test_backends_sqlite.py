"""The backend contracts, and SQLite specifics, on a SQLite database file."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from kinto_clone.core import transaction
from kinto_clone.core.cache import CacheBase
from kinto_clone.core.cache import sqlite as sqlite_cache
from kinto_clone.core.cache.testing import CacheContract
from kinto_clone.core.permission import PermissionBase
from kinto_clone.core.permission import sqlite as sqlite_permission
from kinto_clone.core.permission.testing import PermissionContract
from kinto_clone.core.sql import dialects
from kinto_clone.core.sql.cache import SQLCache
from kinto_clone.core.sql.dialects import SQLITE
from kinto_clone.core.sql.prefetch import SQLPrefetcher
from kinto_clone.core.sql.session import participate, positional_form
from kinto_clone.core.sql.tables import objects
from kinto_clone.core.sql.testing import Boom, SQLBackendsContract
from kinto_clone.core.storage import BackendError, StorageBase
from kinto_clone.core.storage import sqlite as sqlite_storage
from kinto_clone.core.storage.testing import StorageContract


def sqlite_config(path: Path, **settings: object) -> Configurator:
    urls = {f"{kind}_url": f"sqlite:///{path}" for kind in ("storage", "permission", "cache")}
    return Configurator(settings={**urls, **settings})


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    config = sqlite_config(tmp_path_factory.mktemp("sqlite") / "kinto.sqlite")
    found = SimpleNamespace(
        storage=sqlite_storage.load_from_config(config),
        permission=sqlite_permission.load_from_config(config),
        cache=sqlite_cache.load_from_config(config),
    )
    (found.engine,) = config.registry.sql_engines.values()
    yield found
    found.engine.dispose()


class TestSQLiteStorage(StorageContract):
    @pytest.fixture
    def storage(self, backends: SimpleNamespace) -> Iterator[StorageBase]:
        backends.storage.flush()
        yield backends.storage
        backends.storage.flush()


class TestSQLitePermission(PermissionContract):
    @pytest.fixture
    def permission(self, backends: SimpleNamespace) -> PermissionBase:
        return backends.permission


class TestSQLiteCache(CacheContract):
    @pytest.fixture
    def cache(self, backends: SimpleNamespace) -> CacheBase:
        return backends.cache

    @pytest.fixture
    def prefixed_cache(self, backends: SimpleNamespace) -> Callable[[str], CacheBase]:
        return lambda prefix: SQLCache(backends.engine, SQLITE, cache_prefix=prefix)


class TestSQLiteBackends(SQLBackendsContract):
    dialect = SQLITE

    @pytest.fixture
    def empty_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'kinto.sqlite'}"


def test_first_start_creates_folders_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "kinto.sqlite"
    config = sqlite_config(path)
    storage = sqlite_storage.load_from_config(config)
    sqlite_permission.load_from_config(config).add_principal_to_ace("/b", "read", "alice")
    sqlite_cache.load_from_config(config).set("key", "value", 60)
    assert storage.create("r", "/p", {"id": "x"})["id"] == "x"
    assert path.is_file()
    config.registry.sql_engines.popitem()[1].dispose()


def test_relative_paths_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = Configurator(settings={"storage_url": "sqlite:///data/kinto.sqlite"})
    sqlite_storage.load_from_config(config).create("r", "/p", {})
    assert (tmp_path / "data" / "kinto.sqlite").is_file()
    config.registry.sql_engines.popitem()[1].dispose()


def test_connections_are_durable_and_case_sensitive(backends: SimpleNamespace) -> None:
    with backends.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        # 2 is FULL: a write is on disk before the commit returns.
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert connection.exec_driver_sql("SELECT 'A' LIKE 'a'").scalar() == 0


def test_readers_do_not_wait_for_a_writer(backends: SimpleNamespace) -> None:
    storage = backends.storage
    storage.flush()
    storage.create("r", "/p", {"id": "old"})
    seen: list[list[str]] = []
    reader = threading.Thread(
        target=lambda: seen.append([o["id"] for o in storage.list_all("r", "/p")])
    )
    with pytest.raises(Boom), transaction.atomic():
        storage.create("r", "/p", {"id": "new"})
        reader.start()
        reader.join(timeout=5)
        assert not reader.is_alive(), "the reader waited for the write transaction"
        raise Boom
    assert seen == [["old"]]
    storage.flush()


def test_a_second_writer_waits_for_the_first(backends: SimpleNamespace) -> None:
    storage = backends.storage
    storage.flush()
    order: list[str] = []
    second = threading.Thread(target=lambda: order.append(storage.create("r", "/q", {})["id"]))
    with transaction.atomic():
        storage.create("r", "/p", {"id": "first"})
        second.start()
        second.join(timeout=0.3)
        assert second.is_alive(), "the second writer should wait, not fail"
        order.append("first")
    second.join(timeout=30)
    assert order[0] == "first" and len(order) == 2
    storage.flush()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_memory_databases_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="must name a database file"):
        sqlite_storage.load_from_config(Configurator(settings={"storage_url": url}))


def test_other_databases_are_refused() -> None:
    config = Configurator(settings={"cache_url": "postgresql://localhost/kinto"})
    with pytest.raises(ConfigurationError, match="must be a sqlite:/// URL"):
        sqlite_cache.load_from_config(config)


def test_reading_objects_by_key_searches_the_index(backends: SimpleNamespace) -> None:
    """Every request reads its parents by key: a table scan there would make a
    read cost O(objects in the database)."""
    keys = [("bucket", "", "b"), ("collection", "/buckets/b", "c")]
    statement, parameters = backends.storage._statements.by_keys(keys)
    with backends.engine.connect() as connection:
        compiled = statement.compile(dialect=connection.dialect)
        plan = connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}", tuple(parameters[n] for n in compiled.positiontup)
        ).all()
    details = [row[-1] for row in plan]
    assert any(d.startswith("SEARCH objects USING INDEX") for d in details), details
    assert not any(d.startswith("SCAN objects") for d in details), details


def test_a_writer_waiting_too_long_for_the_lock_gets_a_backend_error(
    backends: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers of one process queue on a lock of their own: one that waits past
    the busy timeout gives up with a 503, as SQLite itself would."""
    monkeypatch.setattr(dialects, "BUSY_TIMEOUT_MS", 50)
    with backends.engine.connect() as connection:
        lock = dialects._writer_lock(connection)
    assert lock.acquire(timeout=5)
    try:
        with pytest.raises(BackendError, match="database is locked"):
            backends.storage.create("r", "/locked", {})
    finally:
        lock.release()
    assert backends.storage.create("r", "/locked", {})["id"]


def test_reads_on_the_driver_cursor_give_what_sqlalchemy_gives(backends: SimpleNamespace) -> None:
    storage, permission = backends.storage, backends.permission
    storage.flush()
    storage.create("r", "/p", {"id": "x", "big": 2**70, "text": "\u00e9", "list": [1.0, None]})
    permission.add_principal_to_ace("/p/x", "read", "bob")
    condition, parameters = storage.keys_condition([("r", "/p", "x"), ("r", "/p", "y")])
    statement = SQLPrefetcher._build(True, True, condition, True)
    parameters.update(user_id="bob", authenticated="system.Authenticated", rn="r", pid="/p")
    parameters["ace_ids"] = ["/p/x", "/p/y", "/p"]
    with transaction.atomic(), participate(backends.engine, SQLITE) as participant:
        assert positional_form(statement, participant.connection) is not None
        expected = [tuple(row) for row in participant.execute(statement, parameters).all()]
        found = participant.fetch(statement, parameters)
    assert repr(sorted(found, key=repr)) == repr(sorted(expected, key=repr))
    assert len(found) == 4  # The object, two timestamps, the entry (bob is in no group).
    storage.flush()
    permission.flush()


def test_reads_of_converted_columns_run_through_sqlalchemy(backends: SimpleNamespace) -> None:
    with backends.engine.connect() as connection:
        assert positional_form(sa.select(objects.c.deleted), connection) is None
        assert positional_form(sa.delete(objects), connection) is None
        assert positional_form(sa.select(objects.c.data), connection) is not None
