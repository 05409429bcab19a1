"""Server-side prepared statements for the statements built once (PostgreSQL).

psycopg2 sends every statement as text, which PostgreSQL parses and plans
anew each time.  For the statements of every request (the prefetch of a read,
the write of an object, an access control entry) planning costs more than
running: measured on a record read, 0.20-0.24 ms of the server's CPU as text,
0.065 ms prepared.  So the first time a connection runs one of them, ``PREPARE``
goes in front of it, in the same round trip; from then on ``EXECUTE`` sends only
the values.

A prepared form is made per statement text and per shape of its ``IN`` lists
(how many values, how many columns each): those are written out as ``$n``
parameters.  ``PREPARE`` is not transactional, so a statement prepared stays
prepared when the transaction fails; after any error in a round trip that
prepared something, the connection drops all its prepared statements
(``DEALLOCATE ALL``) before the next, rather than guess which were made.

Proxies pooling connections per transaction (PgBouncer's ``transaction``
mode) cannot keep prepared statements: ``kinto.postgresql_prepared_statements
= false`` turns them off.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

__all__ = ["EXECUTION_OPTION", "forget", "prepared_statement"]

EXECUTION_OPTION = "kinto_clone_prepare"
"""Engine execution option: whether :func:`prepared_statement` is used."""

_INFO_KEY = "kinto_clone.prepared"
_PARAMETER = re.compile(r"%\((\w+)\)s")
_DEALLOCATE = "DEALLOCATE ALL;"


class PreparedForm(NamedTuple):
    name: str
    prepare: str
    execute: str
    sources: tuple[tuple[str, int | None, int | None], ...]
    """Where each argument comes from: parameter name, then item and column
    of an ``IN`` list (``None`` for a plain parameter)."""


# Every ``IN`` list length and every list query shape makes a statement of its
# own: long lists (the permissions of a whole page) are sent as text, the forms
# kept are the most recently used, and a connection holding too many prepared
# statements drops them all and starts again.
MAX_LISTED_VALUES = 32
MAX_FORMS = 512
MAX_PREPARED_PER_CONNECTION = 256

_forms: OrderedDict[tuple[Any, ...], PreparedForm] = OrderedDict()
_forms_lock = threading.Lock()
# Names are never reused: a connection may still hold a form no longer kept here.
_names = itertools.count()


def _shape(value: Sequence[Any]) -> tuple[int | None, ...]:
    return tuple(len(item) if isinstance(item, tuple) else None for item in value)


def _form(
    sql: str, sequences: tuple[str, ...], types: dict[str, str], parameters: dict[str, Any]
) -> PreparedForm:
    key = (sql, *(_shape(parameters[name]) for name in sequences))
    found = _forms.get(key)
    if found is not None:
        with _forms_lock:
            if key in _forms:
                _forms.move_to_end(key)
        return found
    sources: list[tuple[str, int | None, int | None]] = []
    declared: list[str] = []
    positions: dict[str, int] = {}

    def argument(name: str, item: int | None, column: int | None) -> str:
        sources.append((name, item, column))
        declared.append(types.get(name, "unknown"))
        return f"${len(sources)}"

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in sequences:
            if name not in positions:
                positions[name] = len(sources) + 1
                argument(name, None, None)
            return f"${positions[name]}"
        items = []
        for item, width in enumerate(_shape(parameters[name])):
            if width is None:
                items.append(argument(name, item, None))
            else:
                columns = [argument(name, item, column) for column in range(width)]
                items.append(f"({', '.join(columns)})")
        return f"({', '.join(items)})"

    positional = _PARAMETER.sub(replace, sql)
    with _forms_lock:
        found = _forms.get(key)
        if found is None:
            name = f"kinto_clone_{next(_names)}"
            arguments = ", ".join(f"%(_a{n})s" for n in range(len(sources)))
            found = _forms[key] = PreparedForm(
                name=name,
                prepare=f"PREPARE {name} ({', '.join(declared)}) AS {positional};",
                execute=f"EXECUTE {name} ({arguments})" if sources else f"EXECUTE {name}",
                sources=tuple(sources),
            )
            if len(_forms) > MAX_FORMS:
                _forms.popitem(last=False)
    return found


def prepared_statement(
    connection: Connection,
    sql: str,
    sequences: tuple[str, ...],
    types: dict[str, str] | None,
    parameters: dict[str, Any],
) -> tuple[str, dict[str, Any], bool]:
    """The SQL running ``sql`` as a prepared statement on ``connection``, its
    parameters, and whether it prepares something (see :func:`forget`).

    ``types`` are the SQL types of the parameters, where known; ``None``: the
    statement is not to be prepared (sent as text)."""
    if types is None or any(not parameters[name] for name in sequences):
        return sql, parameters, False  # ``IN ()``: nothing worth preparing.
    if sum(len(parameters[name]) for name in sequences) > MAX_LISTED_VALUES:
        return sql, parameters, False
    form = _form(sql, sequences, types, parameters)
    info = connection.connection.info
    prepared: set[str] | None = info.get(_INFO_KEY)
    prefix = ""
    if prepared is None or len(prepared) >= MAX_PREPARED_PER_CONNECTION:
        # A new connection, one whose prepared statements are unknown, or one
        # holding too many.
        prefix = _DEALLOCATE if _INFO_KEY in info else ""
        prepared = info[_INFO_KEY] = set()
    if form.name not in prepared:
        prefix += form.prepare
        prepared.add(form.name)
    arguments = {
        f"_a{n}": parameters[name]
        if item is None
        else parameters[name][item]
        if column is None
        else parameters[name][item][column]
        for n, (name, item, column) in enumerate(form.sources)
    }
    return prefix + form.execute, arguments, bool(prefix)


def forget(connection: Connection) -> None:
    """After a failed round trip that prepared statements: drop them all
    before the next one (which of them were made is unknown)."""
    info = connection.connection.info
    info[_INFO_KEY] = None
