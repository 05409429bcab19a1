"""Statements per request: exact budgets that fail when one more is sent.

On PostgreSQL every statement is a network round trip and CPU of the one server
process; on SQLite every statement is work under the writers' lock.  A simple
read once cost 9 round trips (ping, BEGIN, six queries, COMMIT).  These tests
count what reaches the drivers themselves (:mod:`.driver_statements`: psycopg2's
cursors, sqlite3's trace callback), so that statements run outside SQLAlchemy
count too; a ``BEGIN``/lock prefix sent in front of a statement is one round
trip.  Each budget is exact: a change adding a statement fails here, and one
removing a statement lowers the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.driver_statements import Sent, record
from tests.functional.helpers import ALICE

pytestmark = pytest.mark.clone_only

RECORDS = "/v1/buckets/b/collections/c/records"
NO_TRANSACTION: tuple[str, ...] = ()
WRITE_TRANSACTION = ("BEGIN", "COMMIT")

# (statements, transaction control) per request type and backend.
BUDGETS: dict[str, dict[str, tuple[int, tuple[str, ...]]]] = {
    "postgresql": {
        # user principals, ACEs of the record, collection and bucket, parents
        # and the record: one statement (kinto_clone.core.prefetch)
        "read": (1, NO_TRANSACTION),
        # the above and the collection timestamp; the page
        "list_page": (2, NO_TRANSACTION),
        # principals, ACEs (the new record's too) and parents; BEGIN+lock+write
        # +timestamp; the creator's ACE and NOTIFY of the live changes sent
        # with the COMMIT
        "create": (3, WRITE_TRANSACTION),
        # principals, ACEs, parents and the record, without the lock;
        # BEGIN+lock+write if the record is unchanged+timestamp; NOTIFY+COMMIT
        "update": (3, WRITE_TRANSACTION),
        # the above, the record's ACEs removed in the write's round trip
        "delete": (3, WRITE_TRANSACTION),
        # three creations in one transaction, the checks shared, one NOTIFY
        "batch": (7, WRITE_TRANSACTION),
        # principals, the bucket and the collection (existing); then as "create"
        "default_bucket_create": (4, WRITE_TRANSACTION),
    },
    "sqlite": {
        "read": (1, NO_TRANSACTION),
        "list_page": (2, NO_TRANSACTION),
        # principals, ACEs and parents; BEGIN IMMEDIATE, record, timestamp,
        # creator's ACE, COMMIT
        "create": (6, WRITE_TRANSACTION),
        # BEGIN IMMEDIATE, principals, ACEs, parents and record; record,
        # timestamp, COMMIT
        "update": (5, WRITE_TRANSACTION),
        "delete": (6, WRITE_TRANSACTION),
        "batch": (14, WRITE_TRANSACTION),
        "default_bucket_create": (7, WRITE_TRANSACTION),
    },
}

DEFAULT_RECORDS = "/v1/buckets/default/collections/tasks/records"

REQUESTS: dict[str, Callable[[webtest.TestApp], object]] = {
    "read": lambda app: app.get(f"{RECORDS}/r", headers=ALICE),
    "list_page": lambda app: app.get(f"{RECORDS}?_limit=1", headers=ALICE),
    "create": lambda app: app.post_json(RECORDS, {"data": {"n": 1}}, headers=ALICE, status=201),
    "update": lambda app: app.patch_json(f"{RECORDS}/r", {"data": {"n": 2}}, headers=ALICE),
    "delete": lambda app: app.delete(f"{RECORDS}/other", headers=ALICE),
    "default_bucket_create": lambda app: app.post_json(
        DEFAULT_RECORDS, {"data": {"n": 1}}, headers=ALICE, status=201
    ),
    "batch": lambda app: app.post_json(
        "/v1/batch",
        {
            "requests": [
                {"method": "PUT", "path": f"{RECORDS}/new-{n}", "body": {"data": {}}}
                for n in range(3)
            ]
        },
        headers=ALICE,
    ),
}


@pytest.fixture
def tree(make_app: MakeApp) -> webtest.TestApp:
    """Alice's collection ``c`` holding records ``r`` and ``other``, and her
    default bucket's collection ``tasks``."""
    app = make_app()
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    app.put_json(f"{RECORDS}/r", {"data": {"n": 0}}, headers=ALICE)
    app.put_json(f"{RECORDS}/other", {"data": {"n": 0}}, headers=ALICE)
    app.post_json(DEFAULT_RECORDS, {"data": {"n": 0}}, headers=ALICE, status=201)
    return app


@pytest.fixture
def sent(tree: webtest.TestApp) -> Iterator[Sent]:
    with record(tree.app.registry.sql_engines.values()) as found:
        yield found


@pytest.mark.parametrize("request_type", list(REQUESTS))
@pytest.mark.parametrize(
    "app_backend",
    [pytest.param("postgresql", marks=pytest.mark.postgresql), "sqlite"],
    indirect=True,
)
def test_statement_budget(
    tree: webtest.TestApp, sent: Sent, app_backend: object, request_type: str
) -> None:
    REQUESTS[request_type](tree)
    statements, control = BUDGETS[app_backend.name][request_type]
    assert (sent.count, tuple(sent.transaction_control)) == (statements, control), str(sent)


@pytest.mark.parametrize(
    "app_backend",
    [pytest.param("postgresql", marks=pytest.mark.postgresql), "sqlite"],
    indirect=True,
)
def test_statements_outside_sqlalchemy_are_counted(tree: webtest.TestApp, sent: Sent) -> None:
    """The counter sees statements on the driver's own cursor, and SQLAlchemy's."""
    (engine,) = tree.app.registry.sql_engines.values()
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        connection.execute(sa.text("SELECT 2"))
    assert [statement.strip() for statement in sent.statements] == ["SELECT 1", "SELECT 2"]


@pytest.mark.parametrize("app_backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("enabled", ["true", "false"])
@pytest.mark.postgresql
def test_prepared_statements_can_be_turned_off(
    make_app: MakeApp, app_backend: object, enabled: str
) -> None:
    """Behind a proxy pooling connections per transaction (PgBouncer), the
    statements of one request may run on different connections."""
    app = make_app(**{"kinto.postgresql_prepared_statements": enabled})
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    # A read, and a page built per request with its filter values.
    paths = ["/v1/buckets/b", "/v1/buckets/b/collections?has_x=false&_sort=-y"]
    for path in paths:
        app.get(path, headers=ALICE)  # Prepared on first use.
    with record(app.app.registry.sql_engines.values()) as sent:
        for path in paths:
            app.get(path, headers=ALICE)
    executed = [statement.startswith("EXECUTE kinto_clone_") for statement in sent.statements]
    assert executed == [enabled == "true"] * 3
