"""Writes replacing an object on PostgreSQL read it without the list's lock and
write only if it is unchanged; a request whose object changed in between runs
again, locking first (:class:`kinto_clone.core.transaction.WriteConflict`).

Each test here lets another app (another process, as far as the database
knows) write the object between a request's read and its write: the request
must then apply to the newer version, never lose it, never answer 409.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import webtest

from kinto_clone.core.sql.storage import SQLStorage
from tests.functional.conftest import MakeApp
from tests.functional.driver_statements import record
from tests.functional.helpers import ALICE

pytestmark = [
    pytest.mark.clone_only,
    pytest.mark.postgresql,
    pytest.mark.parametrize("app_backend", ["postgresql"], indirect=True),
]

RECORDS = "/v1/buckets/b/collections/c/records"


@pytest.fixture
def RECORD() -> str:
    """A record of its own per test: apps outlive tests, and remember the
    objects that met a conflict (see the last test)."""
    return f"{RECORDS}/{uuid.uuid4()}"


@pytest.fixture
def apps(make_app: MakeApp, RECORD: str) -> tuple[webtest.TestApp, webtest.TestApp]:
    """Two apps on one database, Alice's ``RECORD`` in ``b/c``."""
    app = make_app()
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    app.put_json(RECORD, {"data": {"n": 0}}, headers=ALICE)
    return app, make_app()


Interlude = Callable[[], object]


@dataclass
class Meanwhile:
    """Interludes run, each once, in another thread right after a request of
    the test's thread read the object it replaces; ``reads`` counts those reads."""

    interludes: list[Interlude] = field(default_factory=list)
    reads: list[Any] = field(default_factory=list)

    def append(self, interlude: Interlude) -> None:
        self.interludes.append(interlude)


@pytest.fixture
def between_read_and_write(monkeypatch: pytest.MonkeyPatch) -> Meanwhile:
    meanwhile = Meanwhile()
    original = SQLStorage.expect_version
    tester = threading.current_thread()

    def expect_version(self: SQLStorage, *args: Any) -> None:
        original(self, *args)
        if threading.current_thread() is not tester:
            return
        meanwhile.reads.append(args)
        if not meanwhile.interludes:
            return
        interlude = meanwhile.interludes.pop(0)
        failures: list[BaseException] = []

        def run() -> None:
            try:
                interlude()
            except BaseException as error:  # reported in the test's thread
                failures.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive() and not failures, failures

    monkeypatch.setattr(SQLStorage, "expect_version", expect_version)
    return meanwhile


def test_patch_applies_to_the_version_written_meanwhile(
    apps, between_read_and_write, RECORD
) -> None:
    app, other = apps
    between_read_and_write.append(
        lambda: other.patch_json(RECORD, {"data": {"other": True}}, headers=ALICE)
    )
    response = app.patch_json(RECORD, {"data": {"n": 1}}, headers=ALICE)
    assert response.status_code == 200
    stored = app.get(RECORD, headers=ALICE).json["data"]
    assert (stored["n"], stored.get("other")) == (1, True), "an update was lost"
    # Read without the lock once; the run after the conflict locks first.
    assert len(between_read_and_write.reads) == 1
    assert response.json["data"]["last_modified"] == stored["last_modified"]


def test_if_match_is_checked_against_the_version_replaced(
    apps, between_read_and_write, RECORD
) -> None:
    app, other = apps
    seen = app.get(RECORD, headers=ALICE).headers["ETag"]
    between_read_and_write.append(
        lambda: other.patch_json(RECORD, {"data": {"n": 2}}, headers=ALICE)
    )
    app.patch_json(RECORD, {"data": {"n": 1}}, headers={**ALICE, "If-Match": seen}, status=412)
    assert app.get(RECORD, headers=ALICE).json["data"]["n"] == 2


def test_delete_of_an_object_deleted_meanwhile_is_a_404(
    apps, between_read_and_write, RECORD
) -> None:
    app, other = apps
    between_read_and_write.append(lambda: other.delete(RECORD, headers=ALICE))
    app.delete(RECORD, headers=ALICE, status=404)


def test_put_over_an_object_created_meanwhile_replaces_it(apps, between_read_and_write) -> None:
    app, other = apps
    fresh = f"{RECORDS}/{uuid.uuid4()}"
    between_read_and_write.append(
        lambda: other.put_json(fresh, {"data": {"first": True}}, headers=ALICE, status=201)
    )
    # Run again: the object now exists, so If-None-Match: * fails.
    app.put_json(fresh, {"data": {"n": 1}}, headers={**ALICE, "If-None-Match": "*"}, status=412)
    assert app.get(fresh, headers=ALICE).json["data"]["first"] is True


def test_batch_runs_again_as_a_whole(apps, between_read_and_write) -> None:
    """Through the default bucket, whose routes a batch cannot lock up front:
    the sub-request writing ``tasks`` reads its record without the lock."""
    app, other = apps
    tasks = "/buckets/default/collections/tasks/records"
    task = f"{tasks}/{uuid.uuid4()}"
    app.put_json(f"/v1{task}", {"data": {"n": 0}}, headers=ALICE, status=201)
    between_read_and_write.append(
        lambda: other.patch_json(f"/v1{task}", {"data": {"other": True}}, headers=ALICE)
    )
    notes = "/buckets/default/collections/notes/records"
    body = {
        "requests": [
            {"method": "POST", "path": notes, "body": {"data": {}}},
            {"method": "PATCH", "path": task, "body": {"data": {"n": 1}}},
        ]
    }
    responses = app.post_json("/v1/batch", body, headers=ALICE).json["responses"]
    assert [r["status"] for r in responses] == [201, 200]
    stored = app.get(f"/v1{task}", headers=ALICE).json["data"]
    assert (stored["n"], stored.get("other")) == (1, True), "an update was lost"
    # The first run's creation was rolled back: one note, not two.
    assert len(app.get(f"/v1{notes}", headers=ALICE).json["data"]) == 1
    # The PUT's read, then the batch's (without the lock) once.
    assert len(between_read_and_write.reads) == 2


def test_a_write_takes_the_lock_only_with_its_write_statement(apps, RECORD) -> None:
    """The lock waits for no Python work: the request's first round trip (its
    reads) neither begins the transaction nor locks."""
    app, _ = apps
    with record(app.app.registry.sql_engines.values()) as sent:
        app.patch_json(RECORD, {"data": {"n": 1}}, headers=ALICE)
    locking = [n for n, s in enumerate(sent.statements) if "pg_advisory_xact_lock" in s]
    assert locking == [1], str(sent)
    assert "BEGIN" not in sent.statements[0], str(sent)


def test_writers_of_an_object_met_in_conflict_lock_first_for_a_while(
    apps, between_read_and_write, RECORD
) -> None:
    """Concurrent writers of one object would mostly conflict and run twice:
    after a conflict, they queue on the lock from their first round trip."""
    app, other = apps
    between_read_and_write.append(
        lambda: other.patch_json(RECORD, {"data": {"other": True}}, headers=ALICE)
    )
    app.patch_json(RECORD, {"data": {"n": 1}}, headers=ALICE)
    with record(app.app.registry.sql_engines.values()) as sent:
        app.patch_json(RECORD, {"data": {"n": 2}}, headers=ALICE)
    assert "pg_advisory_xact_lock" in sent.statements[0], str(sent)
    with record(app.app.registry.sql_engines.values()) as sent:
        app.patch_json(f"{RECORDS}/another", {"data": {}}, headers=ALICE, status=404)
    assert "pg_advisory_xact_lock" not in sent.statements[0], str(sent)
