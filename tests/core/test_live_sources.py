"""Change sources of other processes: PostgreSQL ``LISTEN`` and SQLite's
``data_version`` watcher publish the lists that changed, not only the
wake-everyone fallback they use after a (re)connection."""

from __future__ import annotations

import queue
import sqlite3
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from kinto_clone.core.live.hub import ChangeHub
from kinto_clone.core.live.sources import PostgreSQLListener, SQLiteWatcher, notify_channel

GROUP = ("record", "/buckets/b/collections/c")


class RecordingHub(ChangeHub):
    def __init__(self) -> None:
        super().__init__(10)
        self.published: queue.Queue = queue.Queue()

    def publish(self, groups) -> None:
        self.published.put(None if groups is None else sorted(groups))
        super().publish(groups)

    def next_groups(self, timeout: float = 5.0, among: str = "/buckets/b/") -> list:
        """The next publication naming groups under ``among`` (wake-everyone
        ones skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            groups = self.published.get(timeout=max(0.01, deadline - time.monotonic()))
            if groups is not None:
                mine = [group for group in groups if group[1].startswith(among)]
                if mine:
                    return mine


def notify(engine: sa.Engine, schema: str | None, payload: str) -> None:
    """``pg_notify`` on the channel of ``schema`` (None: the engine's own)."""
    with engine.begin() as connection:
        if schema is None:
            schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one()
        connection.execute(
            sa.text("SELECT pg_notify(:channel, :payload)"),
            {"channel": notify_channel(schema), "payload": payload},
        )


@pytest.mark.postgresql
def test_postgresql_listener_publishes_the_notified_lists(postgresql_url: str) -> None:
    engine = sa.create_engine(postgresql_url)
    hub = RecordingHub()
    try:
        PostgreSQLListener(hub, engine).start()
        assert hub.published.get(timeout=5) is None  # Listening: everyone reads once.
        notify(engine, None, '[["record", "/buckets/b/collections/c"]]')
        assert hub.next_groups(timeout=2) == [GROUP]
    finally:
        engine.dispose()


@pytest.mark.postgresql
def test_postgresql_listener_ignores_other_schemas(postgresql_url: str) -> None:
    """Servers on other schemas of the database notify channels of their own."""
    engine = sa.create_engine(postgresql_url)
    hub = RecordingHub()
    try:
        PostgreSQLListener(hub, engine).start()
        assert hub.published.get(timeout=5) is None
        for schema in ("public", "kinto_other_deployment"):
            notify(engine, schema, "*")
        with pytest.raises(queue.Empty):
            hub.published.get(timeout=1)
    finally:
        engine.dispose()


def test_sqlite_watcher_publishes_the_lists_whose_timestamp_moved(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute(
        "CREATE TABLE timestamps (resource_name TEXT, parent_id TEXT, last_modified INTEGER,"
        " PRIMARY KEY (resource_name, parent_id))"
    )
    writer.execute("INSERT INTO timestamps VALUES ('record', '/buckets/b/collections/c', 1)")
    writer.execute("INSERT INTO timestamps VALUES ('record', '/buckets/b/collections/d', 1)")
    hub = RecordingHub()
    SQLiteWatcher(hub, str(path), 0.005).start()
    time.sleep(0.1)
    writer.execute("UPDATE timestamps SET last_modified = 2 WHERE parent_id LIKE '%/c'")
    assert hub.next_groups(timeout=2) == [GROUP]
    writer.close()
