"""Server-side prepared statements (kinto_clone.core.sql.prepared), on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from kinto_clone.core.sql import prepared
from kinto_clone.core.sql.session import native_sql

pytestmark = pytest.mark.postgresql

STATEMENT = (
    sa.select(sa.literal_column("x", sa.Text))
    .select_from(sa.table("t", sa.column("x")))
    .where(
        sa.column("x").in_(sa.bindparam("wanted", expanding=True, type_=sa.Text)),
        sa.column("x") != sa.bindparam("unwanted", type_=sa.Text),
    )
)


@pytest.fixture
def connection(postgresql_url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(postgresql_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("CREATE TEMPORARY TABLE t (x text)")
        connection.exec_driver_sql("INSERT INTO t VALUES ('a'), ('b'), ('c')")
        yield connection
    engine.dispose()


def _run(connection: sa.Connection, parameters: dict[str, Any]) -> tuple[str, list[tuple]]:
    sql, sequences, types = native_sql(STATEMENT, connection)
    parameters = {**parameters, "wanted": tuple(parameters["wanted"])}
    sent, arguments, preparing = prepared.prepared_statement(
        connection, sql, sequences, types, parameters
    )
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sent, arguments)
    except Exception:
        if preparing:
            prepared.forget(connection)
        raise
    rows = sorted(cursor.fetchall())
    cursor.close()
    return sent, rows


def test_prepared_once_per_connection_then_executed(connection: sa.Connection) -> None:
    first, rows = _run(connection, {"wanted": ["a", "b"], "unwanted": "b"})
    assert first.startswith("PREPARE ") and rows == [("a",)]
    again, rows = _run(connection, {"wanted": ["c", "b"], "unwanted": "z"})
    assert again.startswith("EXECUTE ") and rows == [("b",), ("c",)]
    # Another length of the IN list is another statement.
    other, rows = _run(connection, {"wanted": ["a", "b", "c"], "unwanted": "z"})
    assert other.startswith("PREPARE ") and len(rows) == 3


def test_a_failed_round_trip_starts_afresh(connection: sa.Connection) -> None:
    _run(connection, {"wanted": ["a"], "unwanted": "z"})
    prepared.forget(connection)  # As after an error: what exists is unknown.
    sent, rows = _run(connection, {"wanted": ["a"], "unwanted": "z"})
    assert sent.startswith("DEALLOCATE ALL;PREPARE ") and rows == [("a",)]


def test_long_lists_are_sent_as_text(connection: sa.Connection) -> None:
    wanted = [f"v{n}" for n in range(prepared.MAX_LISTED_VALUES + 1)] + ["a"]
    sent, rows = _run(connection, {"wanted": wanted, "unwanted": "z"})
    assert "PREPARE" not in sent and "EXECUTE" not in sent and rows == [("a",)]


def test_a_connection_holding_too_many_starts_afresh(
    connection: sa.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared, "MAX_PREPARED_PER_CONNECTION", 1)
    first, _ = _run(connection, {"wanted": ["a"], "unwanted": "z"})
    second, rows = _run(connection, {"wanted": ["a", "b"], "unwanted": "z"})
    assert first.startswith("PREPARE ") and second.startswith("DEALLOCATE ALL;PREPARE ")
    assert rows == [("a",), ("b",)]
