"""What differs between PostgreSQL and SQLite, and nothing else.

Both give every group of objects (``resource_name``, ``parent_id``) a single
writer at a time, which is what makes timestamps follow commit order:

* PostgreSQL takes a transaction-scoped advisory lock per group; readers never
  wait (MVCC) and writers of other groups run in parallel.
* SQLite allows one writer per database: a transaction becomes a write
  transaction with ``BEGIN IMMEDIATE`` (waiting up to :data:`BUSY_TIMEOUT_MS`
  for the lock instead of failing), and WAL mode lets readers run meanwhile.

Both run reads outside any transaction (autocommit: each statement sees the
latest commit, as it would in a READ COMMITTED transaction) and open one only
when a request writes, so that a read-only request costs no ``BEGIN``/``COMMIT``
round trips.  On PostgreSQL the ``BEGIN`` and the group locks travel in front of
the next statement, in the same round trip (:meth:`Dialect.write_prefix`).
"""

from __future__ import annotations

import logging
import operator
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from pyramid.exceptions import ConfigurationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement

from kinto_clone.core.sql import prepared
from kinto_clone.core.sql.fields import (
    PostgreSQLFields,
    SQLiteFields,
    sqlite_jsonb_key,
    sqlite_lower,
)
from kinto_clone.core.sql.tables import dump_document, load_document
from kinto_clone.core.storage import BackendError

__all__ = ["BUSY_TIMEOUT_MS", "POSTGRESQL", "SQLITE", "Dialect", "PoolSettings"]

BUSY_TIMEOUT_MS = 30_000
logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class PoolSettings:
    """Connection pool options, from ``kinto.<kind>_pool_*`` settings, and
    whether PostgreSQL statements are prepared (:mod:`.prepared`)."""

    size: int = 10
    max_overflow: int = 5
    timeout: float = 30
    recycle: int = -1
    prepared_statements: bool = True


class Dialect:
    """Base of the two database flavours; see the module docstring."""

    name: ClassVar[str]
    title: ClassVar[str]
    example_url: ClassVar[str]
    creates_schema_on_start: ClassVar[bool] = False
    """Whether a backend may create its tables when it starts on an empty
    database, instead of asking for ``kinto migrate``."""
    sends_prefixes: ClassVar[bool] = False
    """Whether the driver sends several statements in one round trip
    (:meth:`write_prefix`); otherwise :meth:`begin_write` and :meth:`lock`
    run on their own."""
    writes_in_common_table_expressions: ClassVar[bool] = False
    """Whether ``WITH x AS (INSERT ... RETURNING ...)`` is supported: several
    writes in one statement, hence one round trip."""
    driver_adapts_sequences: ClassVar[bool] = False
    """Whether the driver renders a tuple parameter as an ``IN`` list, so that
    prebuilt statements can skip SQLAlchemy (:meth:`SQLParticipant.fetch`)."""

    fields: PostgreSQLFields | SQLiteFields

    def url(self, raw: str, setting: str) -> URL:
        """Parse and check the URL of ``setting``; raise a ``ConfigurationError``."""
        try:
            url = sa.make_url(raw)
        except sa.exc.ArgumentError as error:
            raise ConfigurationError(f"{setting} = {raw!r} is not a database URL") from error
        return self._check_url(url, setting)

    def _check_url(self, url: URL, setting: str) -> URL:
        raise NotImplementedError

    def create_engine(self, url: URL, pool: PoolSettings) -> Engine:
        raise NotImplementedError

    def check_server(self, engine: Engine) -> None:
        """Warn, once at start-up, about database settings that hurt in production."""

    def insert(self, table: sa.Table) -> Insert:
        """An ``INSERT`` supporting ``ON CONFLICT`` clauses."""
        raise NotImplementedError

    def document(self, text: ColumnElement[str]) -> ColumnElement[Any]:
        """The JSON ``text`` as a value of a document column."""
        raise NotImplementedError

    def keys_in(
        self, columns: list[ColumnElement[Any]], keys: list[tuple[Any, ...]]
    ) -> ColumnElement[bool]:
        """Whether ``columns`` equal one of ``keys`` (a non-empty list), written
        so that an index on the columns answers it."""
        return sa.tuple_(*columns).in_(keys)

    def begin_write(self, connection: Connection) -> None:
        """Open the write transaction: reads ran in autocommit mode until now."""
        raise NotImplementedError

    def lock(self, connection: Connection, names: list[str]) -> None:
        """Take the named transaction-scoped locks, in the given order."""

    def write_prefix(self, begin: bool, names: list[str]) -> tuple[str, dict[str, Any]]:
        """SQL (and its parameters) opening the write transaction (``begin``)
        and taking the locks ``names``, to be sent in front of the next
        statement, in the same round trip; only where :attr:`sends_prefixes`."""
        raise NotImplementedError

    def commit(self, connection: Connection, writing: bool) -> None:
        """End the transaction: reads left nothing to commit."""
        connection.commit()

    def rollback(self, connection: Connection, writing: bool) -> None:
        connection.rollback()


class PostgreSQLDialect(Dialect):
    name = "postgresql"
    title = "PostgreSQL"
    example_url = "postgresql://postgres@localhost/kinto"
    sends_prefixes = True
    writes_in_common_table_expressions = True
    driver_adapts_sequences = True
    fields = PostgreSQLFields()

    def _check_url(self, url: URL, setting: str) -> URL:
        # SQLAlchemy 2.1 would pick psycopg 3 for a bare ``postgresql://``.
        if url.drivername in ("postgres", "postgresql"):
            url = url.set(drivername="postgresql+psycopg2")
        if url.drivername != "postgresql+psycopg2":
            raise ConfigurationError(f"{setting} must be a postgresql:// URL")
        return url

    def create_engine(self, url: URL, pool: PoolSettings) -> Engine:
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in url.query:
            # Fail fast (503) rather than hang a worker when the server is gone.
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        return sa.create_engine(
            url,
            pool_size=pool.size,
            max_overflow=pool.max_overflow,
            pool_timeout=pool.timeout,
            pool_recycle=pool.recycle,
            # Transactions are opened by hand, for writes only (module docstring).
            # Connections broken by a server restart are replaced on first use
            # (:class:`~kinto_clone.core.sql.session.SQLParticipant`) rather
            # than pinged at every checkout, a round trip per request.
            isolation_level="AUTOCOMMIT",
            executemany_mode="values_plus_batch",
            json_serializer=dump_document,
            json_deserializer=load_document,
            connect_args=connect_args,
            execution_options={prepared.EXECUTION_OPTION: pool.prepared_statements},
        )

    def check_server(self, engine: Engine) -> None:
        # Deletions leave tombstones and superseded rows behind; without autovacuum
        # tables and indexes only grow and every read slows down.
        try:
            with engine.connect() as connection:
                autovacuum = connection.exec_driver_sql("SHOW autovacuum").scalar()
        except sa.exc.SQLAlchemyError as error:
            # The schema check that follows reports an unreachable server.
            logger.debug("Could not read the autovacuum setting: %s", error)
            return
        if str(autovacuum).lower() != "on":
            logger.warning(
                "PostgreSQL at %s runs with autovacuum off: dead rows will pile up and "
                "slow every request down; turn it on (ALTER SYSTEM SET autovacuum = on).",
                engine.url.render_as_string(hide_password=True),
            )

    def insert(self, table: sa.Table) -> Insert:
        return postgresql.insert(table)

    def document(self, text: ColumnElement[str]) -> ColumnElement[Any]:
        return sa.cast(text, JSONB)

    def begin_write(self, connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    def lock(self, connection: Connection, names: list[str]) -> None:
        connection.exec_driver_sql(POSTGRESQL_LOCK, {"lock_names": names})

    def write_prefix(self, begin: bool, names: list[str]) -> tuple[str, dict[str, Any]]:
        sql = "BEGIN;" if begin else ""
        if names:
            sql += POSTGRESQL_LOCK + ";"
        return sql, {"lock_names": names}

    def commit(self, connection: Connection, writing: bool) -> None:
        # The driver is in autocommit mode: its commit() would send nothing.
        if writing:
            connection.exec_driver_sql("COMMIT")
        connection.commit()

    def rollback(self, connection: Connection, writing: bool) -> None:
        if writing:
            connection.exec_driver_sql("ROLLBACK")
        connection.rollback()


# Advisory locks, taken in the order of the names.  The current schema is part
# of the key: instances using different schemas of one database do not contend.
POSTGRESQL_LOCK = (
    "SELECT count(pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || name, 0)))"
    " FROM unnest(%(lock_names)s::text[]) AS name"
)


class SQLiteDialect(Dialect):
    name = "sqlite"
    title = "SQLite"
    example_url = "sqlite:///var/kinto.sqlite"
    creates_schema_on_start = True
    fields = SQLiteFields()

    def _check_url(self, url: URL, setting: str) -> URL:
        if url.get_backend_name() != "sqlite":
            raise ConfigurationError(f"{setting} must be a sqlite:/// URL")
        if url.database in (None, "", ":memory:"):
            # Each pooled connection would see its own empty database.
            raise ConfigurationError(f"{setting} must name a database file (sqlite:///path)")
        return url

    def create_engine(self, url: URL, pool: PoolSettings) -> Engine:
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            poolclass=sa.pool.QueuePool,
            pool_size=pool.size,
            max_overflow=pool.max_overflow,
            pool_timeout=pool.timeout,
            pool_recycle=pool.recycle,
            json_serializer=dump_document,
            json_deserializer=load_document,
            # ``timeout`` is SQLite's busy timeout: wait for the write lock.
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )
        sa.event.listen(engine, "connect", _configure_sqlite_connection)
        return engine

    def insert(self, table: sa.Table) -> Insert:
        return sqlite.insert(table)

    def keys_in(
        self, columns: list[ColumnElement[Any]], keys: list[tuple[Any, ...]]
    ) -> ColumnElement[bool]:
        # SQLite scans the whole table for a row-value IN list, but answers an
        # OR of equalities with one index search per key.
        return sa.or_(*(sa.and_(*map(operator.eq, columns, key)) for key in keys))

    def document(self, text: ColumnElement[str]) -> ColumnElement[Any]:
        return text

    def begin_write(self, connection: Connection) -> None:
        # Writers of this process queue on a lock of their own first: SQLite's
        # busy handler polls, sleeping up to 100 ms between tries, so threads
        # waiting on the database lock itself would idle long after it is free.
        # Only writers of other processes still meet the busy handler.
        lock = _writer_lock(connection)
        if not lock.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise BackendError(message="database is locked")
        try:
            # Take the database write lock now: upgrading a read transaction
            # later fails without waiting when another writer committed meanwhile.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            lock.release()
            raise

    def commit(self, connection: Connection, writing: bool) -> None:
        _end_transaction(connection, writing, connection.commit)

    def rollback(self, connection: Connection, writing: bool) -> None:
        _end_transaction(connection, writing, connection.rollback)


def _end_transaction(connection: Connection, writing: bool, end: Callable[[], None]) -> None:
    """End the transaction with ``end``, then free the writers' lock it held,
    whether or not ending succeeded."""
    try:
        end()
    finally:
        if writing:
            _writer_lock(connection).release()


_writer_locks: dict[str, threading.Lock] = {}
_writer_locks_guard = threading.Lock()


def _writer_lock(connection: Connection) -> threading.Lock:
    """The lock of the writers of this process on the connection's database file."""
    path = os.path.abspath(connection.engine.url.database or "")
    with _writer_locks_guard:
        return _writer_locks.setdefault(path, threading.Lock())


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    """Settings of every new SQLite connection (the ``connect`` event).

    With ``isolation_level = None`` the driver never opens transactions by
    itself: reads run in autocommit mode (each sees the latest commit, like
    PostgreSQL's READ COMMITTED) until :meth:`SQLiteDialect.begin_write`.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged write survives a power loss, not only a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        # ``*`` patterns on ids are case-sensitive, as in the other backends;
        # it also lets ``LIKE 'prefix%'`` use the primary key index.
        cursor.execute("PRAGMA case_sensitive_like=ON")
    finally:
        cursor.close()
    dbapi_connection.create_function("kinto_lower", 1, sqlite_lower, deterministic=True)
    dbapi_connection.create_function("kinto_jsonb_key", 1, sqlite_jsonb_key, deterministic=True)


POSTGRESQL = PostgreSQLDialect()
SQLITE = SQLiteDialect()
