"""Counting what the database drivers really send, for the statement budgets.

SQLAlchemy's ``before_cursor_execute`` events miss most of a request: the
prebuilt statements of :meth:`kinto_clone.core.sql.session.SQLParticipant.fetch`
run on psycopg2's own cursor.  So the count is taken at the drivers themselves,
on every connection the app checks out of its pools while :func:`record` is on:

* psycopg2: the connection's ``cursor_factory`` is a cursor noting each
  ``execute`` (one round trip each, a ``BEGIN``/lock prefix included) and each
  parameter set of ``executemany``;
* sqlite3: the connection's trace callback, which SQLite calls for every
  statement it runs, those the driver sends on its own (``COMMIT``) included.

Transaction control (``BEGIN``, ``COMMIT``, ``ROLLBACK``, alone, in front of a
statement or after deferred writes) is listed apart, so that a budget names both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg2.extensions
import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["Sent", "record"]

_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@dataclass
class Sent:
    """The statements sent while recording, in order."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Round trips on PostgreSQL, statements run on SQLite."""
        return len(self.statements)

    @property
    def transaction_control(self) -> list[str]:
        """The ``BEGIN``/``COMMIT``/``ROLLBACK`` sent, alone or as a prefix."""
        found = []
        for statement in self.statements:
            # Statements sent together (a prefix, writes sent with the COMMIT)
            # are separated by ``;``, which our SQL holds nowhere else.
            for part in statement.split(";"):
                match = _CONTROL.match(part)
                if match:
                    found.append(match.group(1).upper())
        return found

    def clear(self) -> None:
        self.statements.clear()

    def __str__(self) -> str:
        return "\n".join(f"{n}. {s[:300]}" for n, s in enumerate(self.statements, 1))


class _CountingCursor(psycopg2.extensions.cursor):
    """A psycopg2 cursor noting what it sends in the ``Sent`` of its connection."""

    sent: Sent | None = None

    def execute(self, query: Any, vars: Any = None) -> None:
        if self.sent is not None:
            self.sent.statements.append(_text(query))
        super().execute(query, vars)

    def executemany(self, query: Any, vars_list: Any) -> None:
        params = list(vars_list)
        if self.sent is not None:
            self.sent.statements.extend([_text(query)] * len(params))
        super().executemany(query, params)


def _text(query: Any) -> str:
    return query.decode() if isinstance(query, bytes) else str(query)


def _counting_cursor(sent: Sent) -> type[_CountingCursor]:
    return type("CountingCursor", (_CountingCursor,), {"sent": sent})


@contextmanager
def record(engines: Iterable[Engine]) -> Iterator[Sent]:
    """Note every statement sent on the connections checked out of ``engines``
    until the block ends."""
    sent = Sent()
    with ExitStack() as stack:
        for engine in engines:
            on, off = _hooks(engine, sent)
            for name, hook in (("checkout", on), ("checkin", off)):
                sa.event.listen(engine, name, hook)
                stack.callback(sa.event.remove, engine, name, hook)
        yield sent


def _hooks(engine: Engine, sent: Sent) -> tuple[Any, Any]:
    if engine.dialect.name == "postgresql":
        cursor_class = _counting_cursor(sent)

        def start(dbapi_connection: Any, *_: Any) -> None:
            dbapi_connection.cursor_factory = cursor_class

        def stop(dbapi_connection: Any, *_: Any) -> None:
            if dbapi_connection is not None:
                dbapi_connection.cursor_factory = None

        return start, stop

    def start_tracing(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_trace_callback(sent.statements.append)

    def stop_tracing(dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.set_trace_callback(None)

    return start_tracing, stop_tracing
