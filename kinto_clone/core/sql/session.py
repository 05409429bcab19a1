"""The SQL participant of a :class:`~kinto_clone.core.transaction.Transaction`.

Every backend call runs in the current transaction (the request's), or in one of
its own when there is none.  The transaction holds one :class:`SQLParticipant`
per engine: backends sharing a database share its connection, see each other's
uncommitted writes and commit together.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, Literal, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.sql.expression import Executable
from sqlalchemy.util import LRUCache

from kinto_clone.core import transaction
from kinto_clone.core.sql import prepared
from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.sql.tables import load_document
from kinto_clone.core.storage import BackendError, IntegrityError

__all__ = ["SQLParticipant", "ShapedStatement", "participate", "ping", "translate_errors"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Parameters = dict[str, Any] | list[dict[str, Any]] | None


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn database errors into the backend exceptions the HTTP layer knows
    (:func:`_translated`)."""
    try:
        yield
    except sa.exc.SQLAlchemyError as error:
        translated = _translated(error)
        if translated is None:
            raise
        raise translated from error


def _translated(error: BaseException) -> Exception | None:
    """The exception the HTTP layer knows for a database ``error``; None to keep it.

    A lost or unreachable server, an exhausted pool or a deadlock become
    :class:`BackendError` (503, the client retries); a violated constraint
    :class:`IntegrityError` (409).  A value SQLAlchemy could not convert keeps
    its own ``TypeError``/``ValueError``: that is the caller's mistake.
    """
    if isinstance(error, sa.exc.IntegrityError):
        return IntegrityError(str(error.orig))
    if isinstance(error, sa.exc.DBAPIError):
        # Logged by whoever handles the BackendError (the 503 view, the commit
        # tween, the heartbeat, the start-up check), once and in its context: a
        # ``kinto`` command prints it as its one line of error.
        logger.debug("Database error: %s", error.orig)
        return BackendError(original=error.orig)
    if isinstance(error, sa.exc.StatementError):
        if isinstance(error.orig, TypeError | ValueError):
            return error.orig
        return BackendError(original=error)
    if isinstance(error, sa.exc.SQLAlchemyError):
        logger.debug("Database error: %s", error)
        return BackendError(original=error)
    return None


class SQLParticipant:
    """A connection and its transaction, from first use to commit or abort.

    Reads run in autocommit mode (see :mod:`.dialects`); :meth:`writer` opens
    the write transaction (SQLite takes its database lock there) and
    :meth:`lock` takes named locks, each at most once per transaction.

    Where the dialect allows (PostgreSQL), :meth:`defer_lock` leaves the
    ``BEGIN`` and the locks pending, to be sent in front of the next statement:
    in the same round trip for :meth:`fetch`, on their own for :meth:`execute`.
    Either way they are granted before that statement starts, so it sees what
    the previous holder committed.

    ``memo`` holds what the backends read or wrote in this transaction and may
    reuse instead of asking again (group timestamps under their lock, access
    control entries); each backend keeps it consistent with its own writes.
    """

    def __init__(self, engine: Engine, dialect: Dialect) -> None:
        self._engine = engine
        self._dialect = dialect
        with translate_errors():
            self.connection: Connection = engine.connect()
        self._begun = False
        self._pending_begin = False
        self._pending_locks: list[str] = []
        self._deferred_writes: list[tuple[str, dict[str, Any]]] = []
        self._locked: set[str] = set()
        self._closed = False
        self._prepares = bool(engine.get_execution_options().get(prepared.EXECUTION_OPTION))
        self.memo: dict[str, Any] = {}

    def holds(self, name: str) -> bool:
        """Whether this transaction holds the lock ``name`` (or will, before
        its next statement runs)."""
        return name in self._locked

    def execute(self, statement: Executable, parameters: Parameters = None) -> CursorResult:
        """Run a statement; outside a write transaction, a connection the
        server dropped (restart, idle timeout) is replaced and the statement run
        again: nothing was done on it that could be lost."""
        self._send_pending()
        if self._begun:
            return self.connection.execute(statement, parameters)
        return self._retried(lambda: self.connection.execute(statement, parameters))

    def fetch(self, statement: Executable, parameters: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """Every row, as a tuple, of a statement built once (a module or
        instance constant); a pending ``BEGIN`` and locks go in the same round
        trip.

        Where the driver adapts sequences itself (psycopg2), the statement runs
        on the driver's own cursor: SQLAlchemy's execution of a one-row query
        costs about three times the driver's work, and its expansion of ``IN``
        lists more again, on every request.  Results are then not
        type-processed: parameters must need no conversion, and the driver
        decodes JSON documents itself.
        """
        if not self._dialect.driver_adapts_sequences:
            if not self._begun and not self._pending_begin:
                rows = self._read_positional(statement, parameters)
                if rows is not None:
                    return rows
            result = self.execute(statement, parameters)
            return result.all() if result.returns_rows else []
        sql, sequences, types = native_sql(statement, self.connection)
        return self._fetch_native(sql, sequences, types, parameters)

    def fetch_shaped(
        self, shaped: ShapedStatement, values: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """:meth:`fetch` for a statement built once per shape of a query (a
        list page and its filters), the values varying between requests given
        apart as ``values``.

        Its SQL, compiled on first use, runs on the driver's cursor: on
        PostgreSQL as :meth:`fetch` runs, prepared where its parameters have
        plain types (text, numbers); on SQLite as positional parameters, the
        rows of a page left as the driver gives them (SQLAlchemy's result
        rows cost more than SQLite's work).  Statements whose parameters
        SQLAlchemy would convert, or expand, run through SQLAlchemy.
        """
        native = shaped.native
        if native is None:
            if self._dialect.driver_adapts_sequences:
                native = compiled_native_sql(shaped.statement, self.connection)
            else:
                native = compiled_positional_sql(shaped.statement, self.connection)
            native = shaped.native = native or False
        if native is False:
            return self.execute(shaped.statement, values).all()
        if self._dialect.driver_adapts_sequences:
            sql, sequences, types, parameters = native
            return self._fetch_native(sql, sequences, types, {**parameters, **values})
        sql, names, parameters = native
        self._send_pending()
        merged = {**parameters, **values}
        return self._fetch_on_cursor(sql, [merged[name] for name in names])

    def _read_positional(
        self, statement: Executable, parameters: dict[str, Any]
    ) -> list[tuple[Any, ...]] | None:
        """The rows of a ``SELECT`` built once, read outside any write
        transaction on the driver's cursor where the driver takes positional
        parameters (SQLite); ``None`` where it must run through SQLAlchemy.

        Every read request runs the prefetch's statement: SQLAlchemy's
        execution of it (parameters, expansion of its ``IN`` list, result
        rows) cost several times SQLite's own work.  Documents are decoded as
        SQLAlchemy decodes them (:func:`~.tables.load_document`).
        """
        form = positional_form(statement, self.connection)
        if form is None:
            return None
        sql, names, expanding, documents = form
        values: list[Any] = []
        for name in names:
            value = parameters[name]
            if name not in expanding:
                values.append(value)
            elif not value or any(isinstance(item, list | tuple) for item in value):
                return None  # SQLAlchemy's own ``IN ()``, or rows of values.
            else:
                values.extend(value)
        for name in expanding:
            placeholders = ", ".join("?" * len(parameters[name]))
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", placeholders)
        rows = self._fetch_on_cursor(sql, values)
        if documents:
            rows = [
                tuple(
                    load_document(value) if index in documents and value is not None else value
                    for index, value in enumerate(row)
                )
                for row in rows
            ]
        return rows

    def _fetch_native(
        self,
        sql: str,
        sequences: tuple[str, ...],
        types: dict[str, str] | None,
        parameters: dict[str, Any],
    ) -> list[tuple[Any, ...]]:
        for name in sequences:
            parameters = {**parameters, name: _as_tuples(parameters[name])}
        # Outside a transaction, or opening one, nothing could be lost by a retry.
        retry = not self._begun or self._pending_begin
        prefix_sql, prefix_parameters = "", {}
        if self._pending_begin or self._pending_locks or self._deferred_writes:
            prefix_sql, prefix_parameters = self._take_pending()

        def run() -> list[tuple[Any, ...]]:
            # Decided per attempt: a retry runs on a new connection.
            statement_sql, statement_parameters, preparing = sql, parameters, False
            if self._prepares:
                statement_sql, statement_parameters, preparing = prepared.prepared_statement(
                    self.connection, sql, sequences, types, parameters
                )
            return self._fetch_on_cursor(
                prefix_sql + statement_sql,
                {**prefix_parameters, **statement_parameters},
                preparing,
            )

        return self._retried(run) if retry else run()

    def _fetch_on_cursor(
        self, sql: str, parameters: dict[str, Any] | list[Any], preparing: bool = False
    ) -> list[tuple[Any, ...]]:
        connection = self.connection
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql, parameters)
            rows: list[tuple[Any, ...]] = cursor.fetchall() if cursor.description else []
            return rows
        except connection.dialect.loaded_dbapi.Error as error:
            if preparing:
                prepared.forget(connection)
            raise _driver_error(connection, cursor, error, sql, parameters) from error
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

    def writer(self) -> Connection:
        """Open the write transaction now."""
        self._defer_begin()
        self._send_pending()
        return self.connection

    def lock(self, names: Iterable[str]) -> Connection:
        """Hold the named locks until the transaction ends, from now on.

        Names are taken in sorted order, the same in every transaction, so that
        two transactions locking the same groups cannot deadlock.
        """
        self.defer_lock(names)
        return self.writer()

    def defer_lock(self, names: Iterable[str]) -> None:
        """Hold the named locks until the transaction ends, from the next
        statement on (at once where they cannot be sent along with it)."""
        missing = sorted(set(names) - self._locked)
        self._defer_begin()
        self._pending_locks.extend(missing)
        self._locked.update(missing)
        if not self._dialect.sends_prefixes:
            self._send_pending()

    def defer_write(self, statement: Executable, parameters: dict[str, Any]) -> None:
        """Run a write whose result nobody reads (an access control entry, a
        ``NOTIFY``) in this transaction, in the next round trip: in front of
        the next statement, or of the ``COMMIT``.  Every later statement sees
        it, as if it had run now.  Where the driver cannot send several
        statements at once, it runs now.

        ``statement`` is built once (a module or instance constant), as for
        :meth:`fetch`.
        """
        if not self._dialect.sends_prefixes:
            self.writer()
            self.execute(statement, parameters)
            return
        sql, sequences, _ = native_sql(statement, self.connection)
        suffix = f"_w{len(self._deferred_writes)}"
        renamed = {
            name + suffix: _as_tuples(value) if name in sequences else value
            for name, value in parameters.items()
        }
        sql = _PARAMETER.sub(lambda match: f"%({match.group(1)}{suffix})s", sql)
        self._defer_begin()
        self._deferred_writes.append((sql, renamed))

    def fetch_locked(
        self, names: Iterable[str], statement: Executable, parameters: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """:meth:`defer_lock` then :meth:`fetch`."""
        self.defer_lock(names)
        return self.fetch(statement, parameters)

    def _defer_begin(self) -> None:
        if not self._begun and not self._pending_begin:
            self._pending_begin = True

    def _take_pending(self) -> tuple[str, dict[str, Any]]:
        """The SQL of the pending ``BEGIN``, locks and deferred writes, now
        considered sent."""
        sql, parameters = self._dialect.write_prefix(self._pending_begin, self._pending_locks)
        for write_sql, write_parameters in self._deferred_writes:
            sql += write_sql + ";"
            parameters = {**parameters, **write_parameters}
        self._begun = True
        self._pending_begin = False
        self._pending_locks = []
        self._deferred_writes = []
        return sql, parameters

    def _send_pending(self) -> None:
        if not (self._pending_begin or self._pending_locks or self._deferred_writes):
            return
        if not self._dialect.sends_prefixes:
            if self._pending_begin:
                self._retried(lambda: self._dialect.begin_write(self.connection))
                self._begun, self._pending_begin = True, False
            if self._pending_locks:
                self._dialect.lock(self.connection, self._pending_locks)
                self._pending_locks = []
            return
        opening = self._pending_begin
        sql, parameters = self._take_pending()

        def send() -> None:
            self.connection.exec_driver_sql(sql, parameters)

        if opening:
            self._retried(send)
        else:
            send()

    def _retried(self, run: Callable[[], T]) -> T:
        """Run ``run``; should the connection turn out to be dead, run it again
        on a new one (callers make sure nothing done earlier would be lost)."""
        try:
            return run()
        except sa.exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise
            logger.info("Database connection lost, reconnecting: %s", error.orig)
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            self.connection.close()
        self.connection = self._engine.connect()
        return run()

    def commit(self) -> None:
        # A BEGIN still pending was followed by nothing: there is nothing to
        # commit, unless deferred writes wait, sent with the COMMIT.
        try:
            with translate_errors():
                if self._deferred_writes:
                    sql, parameters = self._take_pending()
                    self._fetch_on_cursor(sql + "COMMIT", parameters)
                    self.connection.commit()
                else:
                    self._dialect.commit(self.connection, self._begun)
        finally:
            self._close()

    def abort(self) -> None:
        if self._closed:
            return
        try:
            self._dialect.rollback(self.connection, self._begun)
        except sa.exc.SQLAlchemyError as error:
            # The server discards the transaction of a lost connection anyway;
            # never hand a connection in an unknown state back to the pool.
            logger.debug("Rollback failed: %s", error)
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self.connection.invalidate()
        finally:
            self._close()

    def _close(self) -> None:
        self._closed = True
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            self.connection.close()


class ShapedStatement:
    """A statement built for one shape of query, and its driver SQL once
    compiled (``False``: it runs through SQLAlchemy)."""

    __slots__ = ("native", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self.native: NativeSQL | PositionalSQL | Literal[False] | None = None


# A named parameter of driver SQL in psycopg2's style.
_PARAMETER = re.compile(r"%\((\w+)\)s")

# ``IN`` lists left for the driver to expand: psycopg2 renders a tuple of
# values (or of tuples) as ``(v1, v2, ...)``, parentheses included.
_EXPANDING = re.compile(r"\(__\[POSTCOMPILE_(\w+)\]\)")


def native_sql(
    statement: Executable, connection: Connection
) -> tuple[str, tuple[str, ...], dict[str, str]]:
    """The SQL text of a statement built once (a module or instance constant),
    compiled once per database dialect, the names of its ``IN`` lists, and the
    SQL types of its parameters (those SQLAlchemy knows)."""
    dialect = connection.dialect
    cache = _driver_sql.setdefault(dialect.name, {})
    found = cache.get(statement)
    if found is None:
        compiled = statement.compile(dialect=dialect)
        embedded = [key for key, bind in compiled.binds.items() if bind.value is not None]
        if embedded:
            raise ValueError(f"values embedded in a prepared statement: {embedded}")
        sql = str(compiled)
        sequences = tuple(_EXPANDING.findall(sql))
        types = {}
        for bind in compiled.binds.values():
            # Types SQLAlchemy cannot write (tuples, none) are left to the server.
            with contextlib.suppress(sa.exc.CompileError, AttributeError):
                types[compiled.bind_names[bind]] = bind.type.compile(dialect=dialect)
        found = cache[statement] = (_EXPANDING.sub(r"%(\1)s", sql), sequences, types)
    return found


_driver_sql: dict[str, dict[Executable, tuple[str, tuple[str, ...], dict[str, str]]]] = {}

# Parameter types a prepared statement may declare for values SQLAlchemy would
# send as they are (others: the statement is sent as text).
_PLAIN_TYPES = frozenset({"TEXT", "VARCHAR", "INTEGER", "BIGINT", "SMALLINT", "BOOLEAN"})


class PositionalForm(NamedTuple):
    sql: str
    names: tuple[str, ...]
    """Parameter names, in their order (an ``IN`` list's once)."""
    expanding: frozenset[str]
    """``IN`` lists, written ``__[POSTCOMPILE_<name>]`` in ``sql``."""
    documents: frozenset[int]
    """Columns holding JSON documents."""


def positional_form(statement: Executable, connection: Connection) -> PositionalForm | None:
    """A ``SELECT`` built once, compiled once per database dialect for a
    driver taking positional parameters; ``None`` for other statements, and
    those whose parameters or results SQLAlchemy would convert (other than
    documents)."""
    dialect = connection.dialect
    cache = _positional_forms.setdefault(dialect.name, {})
    if statement in cache:
        return cache[statement]
    form = None
    if isinstance(statement, sa.Select | sa.CompoundSelect):
        compiled = statement.compile(dialect=dialect)
        documents = set()
        converted = False
        for index, column in enumerate(statement.selected_columns):
            if isinstance(column.type, sa.JSON):
                documents.add(index)
            elif column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
                converted = True
        # Private API: should a release change it, statements go through SQLAlchemy.
        processed = getattr(compiled, "_bind_processors", True)
        if not converted and not processed and compiled.positiontup is not None:
            expanding = frozenset(_POSITIONAL_EXPANDING.findall(compiled.string))
            names = tuple(compiled.positiontup)
            form = PositionalForm(compiled.string, names, expanding, frozenset(documents))
    cache[statement] = form
    return form


_positional_forms: dict[str, dict[Executable, PositionalForm | None]] = {}
_POSITIONAL_EXPANDING = re.compile(r"__\[POSTCOMPILE_(\w+)\]")

MAX_COMPILED_SHAPES = 500
_compiled_caches: dict[str, LRUCache] = {}
_compiled_sql: dict[str, tuple[str, tuple[str, ...], dict[str, str] | None]] = {}

NativeSQL = tuple[str, tuple[str, ...], dict[str, str] | None, dict[str, Any]]
PositionalSQL = tuple[str, tuple[str, ...], dict[str, Any]]


def _compiled_with_values(
    statement: Executable, connection: Connection
) -> tuple[Any, dict[str, Any]] | None:
    """A statement holding values (those of the request it was built for)
    compiled through SQLAlchemy's compiled cache, as its execution would (a
    statement of a shape not kept, see :class:`~.query.ListStatements`, costs
    no new compilation), and its values; ``None`` when SQLAlchemy would
    convert some of them (bind processors)."""
    dialect = connection.dialect
    cache = _compiled_caches.get(dialect.name)
    if cache is None:
        cache = _compiled_caches.setdefault(dialect.name, LRUCache(MAX_COMPILED_SHAPES))
    try:
        # Private API: should a release change it, statements go through SQLAlchemy.
        compiled, extracted = statement._compile_w_cache(  # type: ignore[attr-defined]
            dialect,
            compiled_cache=cache,
            column_keys=[],
            for_executemany=False,
            schema_translate_map=None,
        )[:2]
        if compiled._bind_processors:
            return None
    except (AttributeError, TypeError):
        return None
    return compiled, compiled.construct_params(extracted_parameters=extracted, escape_names=False)


def compiled_native_sql(statement: Executable, connection: Connection) -> NativeSQL | None:
    """:func:`native_sql` of a statement holding values, with them (see
    :func:`_compiled_with_values`).

    The types are ``None`` when some parameter is not of a plain type.
    """
    found_compiled = _compiled_with_values(statement, connection)
    if found_compiled is None:
        return None
    compiled, parameters = found_compiled
    text = compiled.string
    found = _compiled_sql.get(text)
    if found is None:
        types: dict[str, str] | None = {}
        for bind, name in compiled.bind_names.items():
            try:
                # A column's collation is not the parameter's.
                declared = bind.type.compile(dialect=connection.dialect).split(" COLLATE ")[0]
            except (sa.exc.CompileError, AttributeError):
                declared = ""
            if declared not in _PLAIN_TYPES:
                types = None
                break
            types[name] = declared
        sequences = tuple(_EXPANDING.findall(text))
        found = (_EXPANDING.sub(r"%(\1)s", text), sequences, types)
        if len(_compiled_sql) < MAX_COMPILED_SHAPES:
            _compiled_sql[text] = found
    return (*found, parameters)


def compiled_positional_sql(statement: Executable, connection: Connection) -> PositionalSQL | None:
    """The SQL of a statement holding values for a driver taking positional
    parameters (SQLite), the names of its parameters in their order, and
    their values (see :func:`_compiled_with_values`); ``None`` also when
    SQLAlchemy would expand a list."""
    found = _compiled_with_values(statement, connection)
    if found is None:
        return None
    compiled, parameters = found
    names = compiled.positiontup
    if names is None or "POSTCOMPILE" in compiled.string:
        return None
    return compiled.string, tuple(names), parameters


def _as_tuples(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(tuple(value) if isinstance(value, list | tuple) else value for value in values)


def _driver_error(
    connection: Connection, cursor: Any, error: Exception, sql: str, parameters: dict[str, Any]
) -> sa.exc.DBAPIError:
    """The error SQLAlchemy would have raised, the connection invalidated if
    the server is gone (so :meth:`SQLParticipant._retried` replaces it)."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if lost:
        connection.invalidate(error)
    return sa.exc.DBAPIError.instance(
        sql,
        parameters,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    )


class participate:
    """The participant of ``engine`` in the current (or a new) transaction.

    A class rather than a generator: every storage and permission call of a
    request enters one (a dozen per record read), and the three nested generator
    context managers it replaced cost about a tenth of a read's CPU.
    """

    __slots__ = ("_atomic", "_dialect", "_engine")

    def __init__(self, engine: Engine, dialect: Dialect) -> None:
        self._engine = engine
        self._dialect = dialect
        self._atomic: contextlib.AbstractContextManager[transaction.Transaction] | None = None

    def __enter__(self) -> SQLParticipant:
        tx = transaction.current()
        if tx is None:
            self._atomic = transaction.atomic()
            tx = self._atomic.__enter__()
        try:
            return tx.join(self._engine, partial(SQLParticipant, self._engine, self._dialect))
        except BaseException as error:
            self.__exit__(type(error), error, error.__traceback__)  # never swallows
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: Any
    ) -> bool:
        atomic, self._atomic = self._atomic, None
        if atomic is not None:
            try:
                atomic.__exit__(exc_type, error, tb)  # commits, or aborts and re-raises
            except BaseException as failed:  # the commit itself failed
                error = failed
        if error is None:
            return False
        translated = _translated(error)
        if translated is None:
            if exc_type is None:
                raise error
            return False
        raise translated from error


def ping(engine: Engine) -> bool:
    """Whether the database answers, on a connection of its own (heartbeat)."""
    try:
        with translate_errors(), engine.connect() as connection:
            connection.execute(sa.select(sa.literal(1)))
    except BackendError as error:
        logger.warning("Database unreachable: %s", error)
        return False
    return True
