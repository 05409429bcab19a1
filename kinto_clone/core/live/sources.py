"""Change sources: how a commit, in this process or another, reaches the hub.

* In the process that commits, every backend: the groups of the transaction's
  :class:`~kinto_clone.core.events.ResourceChanged` events are published once
  it has committed (never for a rolled-back one).
* PostgreSQL: the transaction also sends ``NOTIFY`` with those groups; the
  server delivers notifications only after commit, in commit order, to every
  process listening (:class:`PostgreSQLListener`, one connection per process).
* SQLite: other processes' commits are seen by ``PRAGMA data_version``, a
  counter read without touching any table (:class:`SQLiteWatcher`); only
  when it moves are the group timestamps read, to wake the changed groups.
* Memory: the data lives in one process, the first source is enough.

The listener and the watcher start with the first subscriber of the process
(after ``kinto start --workers`` has forked) and run as daemon threads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import select
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from pyramid.config import Configurator

from kinto_clone.core import transaction
from kinto_clone.core.events import ResourceChanged
from kinto_clone.core.live.hub import ChangeHub, Group
from kinto_clone.core.sql.session import participate

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "kinto_clone_live_"
CURRENT_SCHEMA = sa.text("SELECT current_schema()")
# PostgreSQL refuses payloads of 8000 bytes or more: past this, wake everyone.
MAX_NOTIFY_PAYLOAD = 7000
NOTIFY = sa.text("SELECT pg_notify(:channel, :payload)")
EVERY_GROUP_PAYLOAD = "*"
RECONNECT_DELAY_SECONDS = 1.0
TRANSACTION_GROUPS = "live_groups"
TRANSACTION_WAKES_EVERYONE = "live_wakes_everyone"
# Objects holding lists: deleting one ends the streams of the lists inside.
CONTAINERS = ("bucket", "collection")


def notify_channel(schema: str) -> str:
    """The ``NOTIFY`` channel of the servers whose tables live in ``schema``.

    Channels belong to the whole database: servers on other schemas of it (other
    deployments, parallel test processes) must not wake each other.  Hashed, as
    a channel name is an identifier of at most 63 bytes.
    """
    return CHANNEL_PREFIX + hashlib.sha256(schema.encode()).hexdigest()[:16]


def encode_groups(groups: Iterable[Group]) -> str:
    payload = json.dumps(sorted(groups))
    return payload if len(payload) <= MAX_NOTIFY_PAYLOAD else EVERY_GROUP_PAYLOAD


def decode_groups(payload: str) -> list[Group] | None:
    """The groups of a notification; ``None`` (every group) for ``*`` or garbage."""
    if payload == EVERY_GROUP_PAYLOAD:
        return None
    try:
        return [(str(name), str(parent)) for name, parent in json.loads(payload)]
    except (ValueError, TypeError):
        return None


class TransactionGroups:
    """Collects the groups a transaction changes and announces them once it commits."""

    def __init__(
        self,
        hub: ChangeHub,
        postgresql: tuple[Any, Any] | None,
        sqlite_watcher: SQLiteWatcher | None = None,
    ) -> None:
        self._hub = hub
        # (engine, dialect) of a PostgreSQL storage, which notifies every process.
        self._postgresql = postgresql
        self._channel: str | None = None  # read from the database on first use
        self._sqlite_watcher = sqlite_watcher

    def __call__(self, event: ResourceChanged) -> None:
        tx = transaction.current()
        if tx is None:
            return
        stamps: dict[Group, int] | None = tx.data.get(TRANSACTION_GROUPS)
        if stamps is None:
            stamps = tx.data[TRANSACTION_GROUPS] = {}
            if self._postgresql is not None:
                tx.add_before_commit_hook(lambda: self._notify(self._woken(tx.data, stamps)))
            else:
                if self._sqlite_watcher is not None:
                    watcher = self._sqlite_watcher
                    tx.add_before_commit_hook(lambda: watcher.announce(stamps))
                tx.add_after_commit_hook(lambda: self._hub.publish(self._woken(tx.data, stamps)))
        resource_name = event.payload.get("resource_name") or ""
        if event.payload.get("action") == "delete" and resource_name in CONTAINERS:
            # The lists inside are gone too, without events of their own.
            tx.data[TRANSACTION_WAKES_EVERYONE] = True
        group = (resource_name, event.parent_id)
        stamps[group] = max(stamps.get(group, 0), event.payload.get("timestamp") or 0)

    @staticmethod
    def _woken(data: dict[str, Any], stamps: dict[Group, int]) -> set[Group] | None:
        return None if data.get(TRANSACTION_WAKES_EVERYONE) else set(stamps)

    def _notify(self, groups: set[Group] | None) -> None:
        engine, dialect = self._postgresql  # type: ignore[misc]
        with participate(engine, dialect) as participant:
            if self._channel is None:
                self._channel = notify_channel(participant.execute(CURRENT_SCHEMA).scalar_one())
            # Sent with the COMMIT, in its round trip.
            participant.defer_write(
                NOTIFY,
                {
                    "channel": self._channel,
                    "payload": EVERY_GROUP_PAYLOAD if groups is None else encode_groups(groups),
                },
            )


class _SourceThread:
    """A daemon thread started on demand, reconnecting after failures."""

    name = "kinto-live-source"

    def __init__(self, hub: ChangeHub) -> None:
        self._hub = hub
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run_forever, name=self.name, daemon=True).start()

    def _run_forever(self) -> None:
        while True:
            try:
                self.run()
            except Exception:
                logger.warning("%s lost its connection; reconnecting", self.name, exc_info=True)
            # Changes may have been missed meanwhile: every subscriber reads again.
            self._hub.publish(None)
            time.sleep(RECONNECT_DELAY_SECONDS)

    def run(self) -> None:
        raise NotImplementedError


class PostgreSQLListener(_SourceThread):
    """``LISTEN`` on a connection of its own; each notification wakes its groups."""

    name = "kinto-live-listen"
    poll_seconds = 5.0

    def __init__(self, hub: ChangeHub, engine: Any) -> None:
        super().__init__(hub)
        self._engine = engine

    def run(self) -> None:
        pooled = self._engine.raw_connection()
        connection = pooled.driver_connection
        pooled.detach()  # Held for the life of the process, outside the pool.
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_schema()")
                (schema,) = cursor.fetchone()
                cursor.execute(f'LISTEN "{notify_channel(schema)}"')
            self._hub.publish(None)
            while True:
                select.select([connection], [], [], self.poll_seconds)
                connection.poll()
                groups: list[Group] = []
                every_group = False
                while connection.notifies:
                    decoded = decode_groups(connection.notifies.pop(0).payload)
                    if decoded is None:
                        every_group = True
                    else:
                        groups.extend(decoded)
                if every_group:
                    self._hub.publish(None)
                elif groups:
                    self._hub.publish(groups)
        finally:
            connection.close()


class SQLiteWatcher(_SourceThread):
    """Polls ``PRAGMA data_version`` of the database file; when another
    connection has committed, wakes the groups whose timestamp moved."""

    name = "kinto-live-sqlite"

    def __init__(self, hub: ChangeHub, path: str, interval_seconds: float) -> None:
        super().__init__(hub)
        self._path = path
        self._interval = interval_seconds
        self._announced: dict[Group, int] = {}

    def announce(self, stamps: dict[Group, int]) -> None:
        """The timestamps a commit of this process is about to give its groups:
        it wakes their subscribers itself, so the watcher does not again."""
        for group, stamp in stamps.items():
            self._announced[group] = max(self._announced.get(group, 0), stamp)

    def run(self) -> None:
        connection = sqlite3.connect(self._path, isolation_level=None)
        try:
            version = None
            stamps: dict[Group, int] = {}
            while True:
                (current,) = connection.execute("PRAGMA data_version").fetchone()
                if current != version:
                    rows = connection.execute(
                        "SELECT resource_name, parent_id, last_modified FROM timestamps"
                    ).fetchall()
                    new_stamps = {(name, parent): stamp for name, parent, stamp in rows}
                    if version is not None:
                        self._publish_foreign_changes(stamps, new_stamps)
                    version, stamps = current, new_stamps
                time.sleep(self._interval)
        finally:
            connection.close()

    def _publish_foreign_changes(self, old: dict[Group, int], new: dict[Group, int]) -> None:
        changed = set(old) - set(new)
        for group, stamp in new.items():
            if old.get(group) != stamp and self._announced.pop(group, None) != stamp:
                changed.add(group)
        if changed:
            self._hub.publish(changed)


def setup_sources(config: Configurator, hub: ChangeHub, poll_interval_seconds: float) -> None:
    """Wire the sources fitting the storage backend of the application."""
    storage = config.registry.storage
    dialect = getattr(storage, "_dialect", None)
    engine = getattr(storage, "_engine", None)
    postgresql = None
    watcher = None
    if dialect is not None and dialect.name == "postgresql":
        postgresql = (engine, dialect)
        hub.on_first_subscriber(PostgreSQLListener(hub, engine).start)
    elif dialect is not None and dialect.name == "sqlite" and engine.url.database:
        watcher = SQLiteWatcher(hub, engine.url.database, poll_interval_seconds)
        hub.on_first_subscriber(watcher.start)
    config.add_subscriber(TransactionGroups(hub, postgresql, watcher), ResourceChanged)
