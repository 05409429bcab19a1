"""``GET /v1/__counters__`` (``kinto.plugins.counters``), answered as Kinto 26.5.0 does."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import webtest

from tests.plugins.conftest import ACCOUNTS_SETTINGS, MakeApp, basic_auth

ALICE = basic_auth("alice")
SETTINGS = {
    **ACCOUNTS_SETTINGS,
    "kinto.includes": "kinto.plugins.accounts kinto.plugins.history kinto.plugins.counters",
}


@pytest.fixture
def app(make_app: MakeApp) -> webtest.TestApp:
    return make_app(SETTINGS)


def test_capability(app: webtest.TestApp) -> None:
    assert app.get("/v1/").json["capabilities"]["counters_endpoint"] == {
        "description": "The __counters__ endpoint exposes how many objects are stored.",
        "url": "https://kinto.readthedocs.io/en/latest/api/1.x/counters.html",
    }


def test_empty_server(app: webtest.TestApp) -> None:
    assert app.get("/v1/__counters__").json == {"objects": {}, "tombstones": {}}


def test_counts_objects_and_tombstones_of_every_parent(app: webtest.TestApp) -> None:
    app.put_json("/v1/accounts/bob", {"data": {"password": "bobsecret"}})
    for bucket in ("b1", "b2"):
        app.put_json(f"/v1/buckets/{bucket}", {}, headers=ALICE)
        app.put_json(f"/v1/buckets/{bucket}/collections/c", {}, headers=ALICE)
    app.put_json("/v1/buckets/b1/groups/g", {"data": {"members": []}}, headers=ALICE)
    for record in ("r1", "r2", "r3"):
        app.put_json(f"/v1/buckets/b1/collections/c/records/{record}", {}, headers=ALICE)
        app.put_json(f"/v1/buckets/b2/collections/c/records/{record}", {}, headers=ALICE)
    app.delete("/v1/buckets/b1/collections/c/records/r1", headers=ALICE)
    app.delete("/v1/buckets/b2/collections/c/records/r1", headers=ALICE)
    app.delete("/v1/buckets/b1/groups/g", headers=ALICE)

    # Public: anybody may ask, the answer holds no names.
    assert app.get("/v1/__counters__").json == {
        "objects": {"account": 1, "bucket": 2, "collection": 2, "record": 4, "history": 14},
        "tombstones": {"group": 1, "record": 2},
    }


@pytest.mark.parametrize("app_backend", ["postgresql", "sqlite"], indirect=True)
def test_one_query_whatever_the_number_of_objects(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    for n in range(20):
        app.put_json(f"/v1/buckets/b/collections/c/records/r{n}", {}, headers=ALICE)
    sent: list[str] = []

    def count(*args: object) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            sent.append(str(args[2]))

    engines = list(app.app.registry.sql_engines.values())
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert app.get("/v1/__counters__").json["objects"]["record"] == 20
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", count)
    assert len([query for query in sent if "objects" in query]) == 1, sent
