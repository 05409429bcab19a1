"""What the SQL backends promise beyond the storage, permission and cache contracts.

Schema versions and migrations, one connection and one commit per database and
transaction, and timestamps handed out in commit order to concurrent writers.
Subclass :class:`SQLBackendsContract`, set ``dialect`` and provide the
``empty_url`` fixture: the URL of an empty database, fresh for each test.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import pytest
import sqlalchemy as sa
from pyramid.config import Configurator
from sqlalchemy.engine import Engine

from kinto_clone.core import transaction
from kinto_clone.core.prefetch import ReadPlan
from kinto_clone.core.sql import cache, permission, storage
from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.sql.schema import Schema, SchemaError
from kinto_clone.core.sql.tables import schema_versions
from kinto_clone.core.storage import COMPARISON, Filter, ReadonlyError, Sort

__all__ = ["Backends", "SQLBackendsContract"]

KINDS = ("storage", "permission", "cache")
T = TypeVar("T")
SCHEMAS = {"storage": storage.SCHEMA, "permission": permission.SCHEMA, "cache": cache.SCHEMA}


class Boom(Exception):
    """Raised inside transactions to make them abort."""


@dataclass
class Backends:
    """The three backends of one application, on one database."""

    storage: storage.SQLStorage
    permission: permission.SQLPermission
    cache: cache.SQLCache
    config: Configurator

    @property
    def engine(self) -> Engine:
        (engine,) = self.config.registry.sql_engines.values()
        return engine


def run_in_thread(function: Callable[[], T]) -> T:
    """``function()`` run in a thread of its own, hence in a transaction of its own."""
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(function()))
    thread.start()
    thread.join(30)
    (result,) = results
    return result


def installed(engine: Engine, schema: Schema) -> int:
    with engine.connect() as connection:
        return schema.installed_version(connection)


class SQLBackendsContract:
    dialect: ClassVar[Dialect]

    @pytest.fixture
    def empty_url(self) -> str:
        raise NotImplementedError("override the `empty_url` fixture")

    @pytest.fixture
    def load(self) -> Iterator[Callable[..., Backends]]:
        """``load(url, **settings)``: the three backends of a new application."""
        configs: list[Configurator] = []

        def load(url: str, **settings: object) -> Backends:
            urls = {f"{kind}_url": url for kind in KINDS}
            config = Configurator(settings={**urls, **settings})
            configs.append(config)
            return Backends(
                storage=storage.load_from_config(config, self.dialect),
                permission=permission.load_from_config(config, self.dialect),
                cache=cache.load_from_config(config, self.dialect),
                config=config,
            )

        yield load
        for config in configs:
            for engine in getattr(config.registry, "sql_engines", {}).values():
                engine.dispose()

    @pytest.fixture
    def backends(self, empty_url: str, load: Callable[..., Backends]) -> Backends:
        """Backends on a database migrated by ``initialize_schema()``."""
        found = load(empty_url, skip_schema_check=True)
        for kind in KINDS:
            getattr(found, kind).initialize_schema()
        return found

    # Schema versions.

    def test_dry_run_lists_every_step_and_changes_nothing(self, empty_url, load):
        found = load(empty_url, skip_schema_check=True)
        for kind in KINDS:
            steps = getattr(found, kind).initialize_schema(dry_run=True)
            assert len(steps) == SCHEMAS[kind].version
            assert f"{kind} schema version 1" in steps[0]
        for kind in KINDS:
            assert installed(found.engine, SCHEMAS[kind]) == 0
        assert not sa.inspect(found.engine).has_table("objects")

    def test_migrate_creates_then_has_nothing_to_do(self, empty_url, load):
        found = load(empty_url, skip_schema_check=True)
        for kind in KINDS:
            backend = getattr(found, kind)
            assert len(backend.initialize_schema()) == SCHEMAS[kind].version
            assert backend.initialize_schema() == []
            assert backend.initialize_schema(dry_run=True) == []
            assert installed(found.engine, SCHEMAS[kind]) == SCHEMAS[kind].version
        load(empty_url).storage.create("r", "/p", {"id": "x"})

    def test_missing_schema_at_start(self, empty_url, load):
        if self.dialect.creates_schema_on_start:
            found = load(empty_url)
            for kind in KINDS:
                assert installed(found.engine, SCHEMAS[kind]) == SCHEMAS[kind].version
            assert found.storage.create("r", "/p", {"id": "x"})["id"] == "x"
        else:
            with pytest.raises(SchemaError, match=r"storage schema missing.*`kinto migrate`"):
                load(empty_url)

    def test_skip_schema_check_starts_without_schema(self, empty_url, load):
        found = load(empty_url, skip_schema_check="true")
        assert not sa.inspect(found.engine).has_table("objects")

    def test_migration_from_version_1_keeps_the_data(self, empty_url, load):
        found = load(empty_url, skip_schema_check=True)
        for kind in ("permission", "cache"):
            getattr(found, kind).initialize_schema()
        assert len(storage.SCHEMA.migrate(found.engine, self.dialect, target=1)) == 1
        created = found.storage.create("r", "/p", {"title": "kept"})
        with pytest.raises(SchemaError, match=r"version 1 is outdated.*`kinto migrate`"):
            load(empty_url)
        steps = found.storage.initialize_schema()
        assert steps == [
            "index objects by parent_id (deletions under a parent, for every resource) "
            f"({self.dialect.title} storage schema version 2)"
        ]
        indexes = {index["name"] for index in sa.inspect(found.engine).get_indexes("objects")}
        assert "idx_objects_parent_id" in indexes
        assert load(empty_url).storage.get("r", "/p", created["id"]) == created

    def test_newer_schema_is_refused(self, backends, empty_url, load):
        with backends.engine.begin() as connection:
            connection.execute(
                sa.update(schema_versions)
                .where(schema_versions.c.name == "kinto_clone.storage.schema")
                .values(value="99")
            )
        with pytest.raises(SchemaError, match="version 99 is unknown"):
            load(empty_url)
        with pytest.raises(SchemaError, match="version 99 is unknown"):
            backends.storage.initialize_schema()

    def test_migration_committed_during_the_start_check(self, empty_url, load):
        """Two servers starting on one new SQLite file, or a server starting
        while ``kinto migrate`` runs: the other's migration may commit between
        the reads of the check, which then sees tables without a version.  That
        must not pass for another application's tables."""
        checker = load(empty_url, skip_schema_check=True)
        migrator = load(empty_url, skip_schema_check=True)
        migrated: list[bool] = []

        def migrate_after_the_version_read(_conn, _cursor, statement, parameters, *_args):
            if migrated or "metadata" not in f"{statement} {parameters}":
                return
            migrated.append(True)
            # A thread of its own: in this one it would join the check's
            # transaction, and commit only after it.
            thread = threading.Thread(target=migrator.storage.initialize_schema)
            thread.start()
            thread.join()

        sa.event.listen(checker.engine, "after_cursor_execute", migrate_after_the_version_read)
        storage.SCHEMA.check(checker.engine, self.dialect)
        assert migrated == [True]
        assert installed(checker.engine, storage.SCHEMA) == storage.SCHEMA.version

    def test_tables_of_another_application_are_refused(self, empty_url, load):
        found = load(empty_url, skip_schema_check=True)
        foreign = sa.Table("objects", sa.MetaData(), sa.Column("id", sa.Text))
        with found.engine.begin() as connection:
            foreign.create(connection)
        with pytest.raises(SchemaError, match="not created by this server"):
            load(empty_url)
        with pytest.raises(SchemaError, match="not created by this server"):
            found.storage.initialize_schema(dry_run=True)

    # One database, one transaction.

    def test_backends_on_one_database_share_engine_and_connection(self, backends):
        assert len(backends.config.registry.sql_engines) == 1
        with transaction.atomic():
            backends.storage.create("r", "/p", {"id": "x"})
            backends.permission.add_principal_to_ace("/p/r/x", "write", "alice")
            backends.cache.set("key", "value", 60)
            assert backends.engine.pool.checkedout() == 1
        assert backends.engine.pool.checkedout() == 0

    def test_backends_on_one_database_roll_back_together(self, backends):
        backends.cache.set("token", "", 60)
        with pytest.raises(Boom), transaction.atomic():
            backends.storage.create("r", "/p", {"id": "x"})
            backends.permission.add_principal_to_ace("/p/r/x", "write", "alice")
            assert backends.cache.delete("token") == ""
            raise Boom
        assert backends.storage.list_all("r", "/p", include_deleted=True) == []
        assert backends.permission.get_object_permissions("/p/r/x") == {}
        assert backends.cache.get("token") == ""
        assert backends.storage.all_resources_timestamps("r") == {}

    # Prefetched reads and deferred writes (kinto_clone.core.prefetch).

    def test_prefetch_reads_what_separate_calls_read(self, backends):
        store, perms = backends.storage, backends.permission
        created = store.create("r", "/p", {"n": 1})
        perms.add_principal_to_ace("/p/r/x", "read", "group:g")
        perms.add_user_principal("alice", "group:g")
        plan = ReadPlan(
            user_id="alice",
            ace_object_ids=["/p/r/x", "/p"],
            object_keys=[("r", "/p", created["id"]), ("r", "/p", "missing")],
            list_timestamp=("r", "/p"),
        )
        prefetcher = store.prefetcher(perms)

        def read() -> tuple:
            return (
                perms.get_user_principals("alice"),
                perms.get_object_permissions("/p/r/x"),
                perms.get_object_permissions("/p"),
                store.get_by_keys(plan.object_keys),
                store.resource_timestamp("r", "/p"),
            )

        with transaction.atomic():
            prefetcher(plan)
            prefetched = read()
        separate = read()
        assert prefetched == separate
        assert prefetched[0] == {"group:g"}
        assert prefetched[3] == {("r", "/p", created["id"]): created}

    def test_a_write_lock_rereads_what_was_prefetched_before_it(self, backends):
        store = backends.storage
        created = store.create("r", "/p", {"n": 1})
        key = ("r", "/p", created["id"])
        prefetcher = store.prefetcher(backends.permission)
        with transaction.atomic():
            prefetcher(ReadPlan(object_keys=[key]))
            assert store.get("r", "/p", created["id"])["n"] == 1
            # Another request commits a new version meanwhile.
            updated = run_in_thread(lambda: store.update("r", "/p", created["id"], {"n": 2}))
            store.lock_for_write("r", "/p")
            assert store.get("r", "/p", created["id"]) == updated

    def test_deferred_writes_are_seen_then_committed(self, backends):
        perms = backends.permission
        prefetcher = backends.storage.prefetcher(perms)
        with transaction.atomic():
            prefetcher(ReadPlan(ace_object_ids=["/p/r/x"]))  # Known: no ACE yet.
            perms.add_principal_to_ace("/p/r/x", "write", "alice")
            # A query not answered by the memo sees the deferred insert.
            assert perms.get_accessible_objects(["alice"]) == {"/p/r/x": {"write"}}
            perms.add_principal_to_ace("/p/r/y", "write", "alice")
        with transaction.atomic():
            assert perms.get_accessible_objects(["alice"]) == {
                "/p/r/x": {"write"},
                "/p/r/y": {"write"},
            }

    def test_deferred_writes_are_dropped_by_a_rollback(self, backends):
        perms = backends.permission
        prefetcher = backends.storage.prefetcher(perms)
        with pytest.raises(Boom), transaction.atomic():
            prefetcher(ReadPlan(ace_object_ids=["/p/r/x"]))
            perms.add_principal_to_ace("/p/r/x", "write", "alice")
            raise Boom
        assert perms.get_object_permissions("/p/r/x") == {}
        assert perms.get_accessible_objects(["alice"]) == {}

    # Settings.

    def test_readonly_refuses_to_create_a_group_timestamp(self, backends, empty_url, load):
        stamp = backends.storage.create("r", "/p", {})["last_modified"]
        readonly = load(empty_url, readonly="true").storage
        assert readonly.resource_timestamp("r", "/p") == stamp
        with pytest.raises(ReadonlyError):
            readonly.resource_timestamp("r", "/empty")

    def test_fetch_size_caps_lists_and_deletions(self, backends, empty_url, load):
        capped = load(empty_url, storage_max_fetch_size="3").storage
        for _ in range(6):
            capped.create("r", "/p", {})
        assert len(capped.list_all("r", "/p")) == 3
        # One more than the cap when a limit is asked: the "next page" probe.
        assert len(capped.list_all("r", "/p", limit=10)) == 4
        assert len(capped.delete_all("r", "/p", limit=10)) == 3
        assert capped.count_all("r", "/p") == 3

    # Timestamps of emptied groups.

    def test_purging_every_resource_keeps_timestamps_of_groups_with_objects(self, backends):
        store = backends.storage
        store.create("r", "/p", {})
        store.create("r", "/p", {})
        tombstone = store.delete_all("r", "/p", limit=1)[0]
        store.purge_deleted(None, "/p")
        assert store.resource_timestamp("r", "/p") == tombstone["last_modified"]

    def test_delete_without_tombstone_still_moves_the_group_timestamp(self, backends):
        store = backends.storage
        created = store.create("r", "/p", {})
        deleted = store.delete("r", "/p", created["id"], with_deleted=False)
        assert deleted["last_modified"] > created["last_modified"]
        assert store.resource_timestamp("r", "/p") == deleted["last_modified"]

    # Concurrency.

    def test_concurrent_writers_get_timestamps_in_commit_order(self, backends):
        """8 threads x 50 transactions on one group, and a ``_since`` poller.

        Each transaction lingers a little after its write, so that commits
        would overtake each other if timestamps were not in commit order; the
        poller, advancing its cursor to the newest timestamp it saw, would then
        miss objects.
        """
        store = backends.storage
        writers, per_writer = 8, 50
        stamps: list[list[int]] = [[] for _ in range(writers)]
        created: list[str] = []
        seen: list[str] = []
        errors: list[BaseException] = []
        done = threading.Event()

        def write(mine: list[int]) -> None:
            try:
                for _ in range(per_writer):
                    with transaction.atomic():
                        obj = store.create("record", "/polled", {})
                        time.sleep(random.uniform(0, 0.002))
                    mine.append(obj["last_modified"])
                    created.append(obj["id"])
            except BaseException as error:
                errors.append(error)

        def poll() -> None:
            cursor = 0
            try:
                while True:
                    finished = done.is_set()
                    page = store.list_all(
                        "record",
                        "/polled",
                        filters=[Filter("last_modified", cursor, COMPARISON.GT)],
                        sorting=[Sort("last_modified", 1)],
                    )
                    seen.extend(obj["id"] for obj in page)
                    if page:
                        cursor = page[-1]["last_modified"]
                    if finished:
                        return
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=write, args=(mine,)) for mine in stamps]
        poller = threading.Thread(target=poll)
        for thread in [*threads, poller]:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        poller.join()

        assert not errors, errors
        every = [stamp for mine in stamps for stamp in mine]
        assert len(every) == len(set(every)) == writers * per_writer
        assert all(mine == sorted(mine) for mine in stamps)
        assert store.resource_timestamp("record", "/polled") == max(every)
        assert len(seen) == len(set(seen)), "an object was seen twice"
        assert set(seen) == set(created), "the poller missed objects"

    def test_deletes_across_groups_run_with_writers(self, backends):
        store = backends.storage
        errors: list[BaseException] = []

        def write(group: int) -> None:
            try:
                for _ in range(30):
                    store.create("r", f"/p{group}", {})
            except BaseException as error:
                errors.append(error)

        def delete() -> None:
            try:
                for _ in range(20):
                    store.delete_all(None, "/p*")
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        threads.append(threading.Thread(target=delete))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        for group in range(4):
            parent = f"/p{group}"
            listed = store.list_all("r", parent, include_deleted=True)
            stamps = [obj["last_modified"] for obj in listed]
            assert len(listed) == 30
            assert len(set(stamps)) == 30
            assert store.resource_timestamp("r", parent) == max(stamps)
