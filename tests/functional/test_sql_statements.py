"""Round trips to PostgreSQL per request: a budget that must not grow back.

On PostgreSQL every statement is a network round trip and, in SQLAlchemy, CPU
of the one server process: a simple read once cost 9 of them (ping, BEGIN, six
queries, COMMIT).  These tests count what reaches the driver (a ``BEGIN``/lock
prefix sent with a statement counts as one) and fail when a request needs more
than it does today; lower the budget when a change removes one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE

pytestmark = [pytest.mark.postgresql, pytest.mark.clone_only]

RECORDS = "/v1/buckets/b/collections/c/records"

BUDGETS = {
    # user principals, ACEs of record/collection/bucket, parents, the record
    "read_one": 4,
    # the above, BEGIN+lock+write+timestamp, creator's ACE (+ the other ACEs), COMMIT
    "create": 6,
    # principals, BEGIN+lock+read, ACEs, parents, write+timestamp, COMMIT
    # (the writer's ACE is known to be there already)
    "update": 6,
}


@pytest.fixture
def statements(make_app: MakeApp) -> Iterator[tuple[webtest.TestApp, list[str]]]:
    """Alice's collection ``c`` holding record ``r``, and the statements the
    app sends from now on."""
    app = make_app()
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    app.put_json(f"{RECORDS}/r", {"data": {"n": 0}}, headers=ALICE)
    sent: list[str] = []

    def count(*args: object) -> None:
        sent.append(str(args[2]))

    engines = list(app.app.registry.sql_engines.values())
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", count)
    yield app, sent
    for engine in engines:
        sa.event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("app_backend", ["postgresql"], indirect=True)
def test_reading_a_record(statements: tuple[webtest.TestApp, list[str]]) -> None:
    app, sent = statements
    app.get(f"{RECORDS}/r", headers=ALICE)
    assert len(sent) <= BUDGETS["read_one"], sent


@pytest.mark.parametrize("app_backend", ["postgresql"], indirect=True)
def test_creating_a_record(statements: tuple[webtest.TestApp, list[str]]) -> None:
    app, sent = statements
    app.post_json(RECORDS, {"data": {"n": 1}}, headers=ALICE, status=201)
    assert len(sent) <= BUDGETS["create"], sent


@pytest.mark.parametrize("app_backend", ["postgresql"], indirect=True)
def test_patching_a_record(statements: tuple[webtest.TestApp, list[str]]) -> None:
    app, sent = statements
    app.patch_json(f"{RECORDS}/r", {"data": {"n": 2}}, headers=ALICE)
    assert len(sent) <= BUDGETS["update"], sent
