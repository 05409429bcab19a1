"""``participate``: the SQL participant of the current transaction, errors translated."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kinto_clone.core import transaction
from kinto_clone.core.sql.dialects import SQLiteDialect
from kinto_clone.core.sql.session import SQLParticipant, participate
from kinto_clone.core.storage import BackendError, IntegrityError

ERRORS = [
    (sa.exc.IntegrityError("INSERT", {}, Exception("unique")), IntegrityError),
    (sa.exc.OperationalError("SELECT", {}, Exception("gone")), BackendError),
    (sa.exc.StatementError("bad", "SELECT", {}, TypeError("not JSON")), TypeError),
    (sa.exc.StatementError("bad", "SELECT", {}, KeyError("x")), BackendError),
    (sa.exc.NoSuchTableError("t"), BackendError),
]


@pytest.fixture
def engine() -> sa.Engine:
    return sa.create_engine("sqlite://")


@pytest.mark.parametrize("in_transaction", [True, False])
@pytest.mark.parametrize(("error", "expected"), ERRORS)
def test_database_errors_become_backend_errors(
    engine: sa.Engine, in_transaction: bool, error: Exception, expected: type[Exception]
) -> None:
    context = transaction.bound(transaction.Transaction()) if in_transaction else _Nothing()
    with context, pytest.raises(expected) as raised, participate(engine, SQLiteDialect()):
        raise error
    assert raised.value.__cause__ is error


def test_other_errors_pass_through(engine: sa.Engine) -> None:
    tx = transaction.bound(transaction.Transaction())
    with tx, pytest.raises(KeyError), participate(engine, SQLiteDialect()):
        raise KeyError("mine")


def test_one_participant_per_transaction(engine: sa.Engine) -> None:
    tx = transaction.Transaction()
    with transaction.bound(tx):
        with participate(engine, SQLiteDialect()) as first:
            assert isinstance(first, SQLParticipant)
        with participate(engine, SQLiteDialect()) as second:
            assert second is first
    with participate(engine, SQLiteDialect()) as alone:
        assert alone is not first


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None
