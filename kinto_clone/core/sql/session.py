"""The SQL participant of a :class:`~kinto_clone.core.transaction.Transaction`.

Every backend call runs in the current transaction (the request's), or in one of
its own when there is none.  The transaction holds one :class:`SQLParticipant`
per engine: backends sharing a database share its connection, see each other's
uncommitted writes and commit together.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from functools import partial

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kinto_clone.core import transaction
from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.storage import BackendError, IntegrityError

__all__ = ["SQLParticipant", "participate", "ping", "translate_errors"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn database errors into the backend exceptions the HTTP layer knows.

    A lost or unreachable server, an exhausted pool or a deadlock become
    :class:`BackendError` (503, the client retries); a violated constraint
    :class:`IntegrityError` (409).  A value SQLAlchemy could not convert keeps
    its own ``TypeError``/``ValueError``: that is the caller's mistake.
    """
    try:
        yield
    except sa.exc.IntegrityError as error:
        raise IntegrityError(str(error.orig)) from error
    except sa.exc.DBAPIError as error:
        logger.error("Database error: %s", error.orig)
        raise BackendError(original=error.orig) from error
    except sa.exc.StatementError as error:
        if isinstance(error.orig, TypeError | ValueError):
            raise error.orig from error
        raise BackendError(original=error) from error
    except sa.exc.SQLAlchemyError as error:
        logger.error("Database error: %s", error)
        raise BackendError(original=error) from error


class SQLParticipant:
    """A connection and its transaction, from first use to commit or abort.

    The transaction starts as a read transaction; :meth:`writer` turns it into
    a write transaction (SQLite takes its database lock there) and :meth:`lock`
    takes named locks, each at most once per transaction.
    """

    def __init__(self, engine: Engine, dialect: Dialect) -> None:
        self._dialect = dialect
        with translate_errors():
            self.connection: Connection = engine.connect()
        self._writing = False
        self._locked: set[str] = set()
        self._closed = False

    def writer(self) -> Connection:
        if not self._writing:
            self._dialect.begin_write(self.connection)
            self._writing = True
        return self.connection

    def lock(self, names: Iterable[str]) -> Connection:
        """Hold the named locks until the transaction ends.

        Names are taken in sorted order, the same in every transaction, so that
        two transactions locking the same groups cannot deadlock.
        """
        connection = self.writer()
        missing = sorted(set(names) - self._locked)
        if missing:
            self._dialect.lock(connection, missing)
            self._locked.update(missing)
        return connection

    def commit(self) -> None:
        try:
            with translate_errors():
                self.connection.commit()
        finally:
            self._close()

    def abort(self) -> None:
        if self._closed:
            return
        try:
            self.connection.rollback()
        except sa.exc.SQLAlchemyError as error:
            # The server discards the transaction of a lost connection anyway.
            logger.debug("Rollback failed: %s", error)
        finally:
            self._close()

    def _close(self) -> None:
        self._closed = True
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            self.connection.close()


@contextlib.contextmanager
def participate(engine: Engine, dialect: Dialect) -> Iterator[SQLParticipant]:
    """The participant of ``engine`` in the current (or a new) transaction."""
    with translate_errors(), transaction.atomic() as tx:
        yield tx.join(engine, partial(SQLParticipant, engine, dialect))


def ping(engine: Engine) -> bool:
    """Whether the database answers, on a connection of its own (heartbeat)."""
    try:
        with translate_errors(), engine.connect() as connection:
            connection.execute(sa.select(sa.literal(1)))
    except BackendError:
        return False
    return True
