"""Tombstones: how deletions reach clients polling a collection.

A deleted object leaves ``{id, last_modified, deleted: true}``; it shows up in
lists filtered on ``last_modified`` (``_since``, ``_before``, ``gt_``/``lt_``...)
and never in plain lists or counts.
"""

from __future__ import annotations

import json

import pytest
import webtest

from tests.functional.helpers import ALICE

RECORDS = "/v1/buckets/b/collections/c/records"


@pytest.fixture
def synced(empty_collection: webtest.TestApp) -> dict[str, int]:
    """Records r1..r4 created in order, then r2 and r3 deleted.

    Returns the ``last_modified`` of every event, keyed ``r1``.. and ``-r2``/``-r3``.
    """
    app = empty_collection
    stamps = {}
    for name in ("r1", "r2", "r3", "r4"):
        response = app.put_json(f"{RECORDS}/{name}", {"data": {"name": name}}, headers=ALICE)
        stamps[name] = response.json["data"]["last_modified"]
    for name in ("r2", "r3"):
        stamps[f"-{name}"] = app.delete(f"{RECORDS}/{name}", headers=ALICE).json["data"][
            "last_modified"
        ]
    return stamps


def listing(app: webtest.TestApp, query: str = "") -> list[tuple[str, bool]]:
    data = app.get(f"{RECORDS}?{query}", headers=ALICE).json["data"]
    return [(obj["id"], obj.get("deleted", False)) for obj in data]


def test_plain_lists_and_counts_have_no_tombstones(
    empty_collection: webtest.TestApp, synced: dict[str, int]
) -> None:
    app = empty_collection
    assert listing(app) == [("r4", False), ("r1", False)]
    head = app.head(RECORDS, headers=ALICE)
    assert head.headers["Total-Objects"] == head.headers["Total-Records"] == "2"


def test_since_lists_tombstones_with_the_changes(
    empty_collection: webtest.TestApp, synced: dict[str, int]
) -> None:
    app = empty_collection
    data = app.get(f"{RECORDS}?_since={synced['r1']}", headers=ALICE).json["data"]
    assert data == [
        {"id": "r3", "last_modified": synced["-r3"], "deleted": True},
        {"id": "r2", "last_modified": synced["-r2"], "deleted": True},
        {"id": "r4", "name": "r4", "last_modified": synced["r4"]},
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("_since=0", [("r3", True), ("r2", True), ("r4", False), ("r1", False)]),
        ('_since="{r4}"', [("r3", True), ("r2", True)]),
        ("_since={-r3}", []),
        ("_since=null", [("r3", True), ("r2", True), ("r4", False), ("r1", False)]),
        ("gt_last_modified={r4}", [("r3", True), ("r2", True)]),
        ("min_last_modified={-r2}", [("r3", True), ("r2", True)]),
        ("_before={-r3}", [("r2", True), ("r4", False), ("r1", False)]),
        ("lt_last_modified={-r3}", [("r2", True), ("r4", False), ("r1", False)]),
        ("max_last_modified={-r2}", [("r2", True), ("r4", False), ("r1", False)]),
        ("last_modified={-r2}", [("r2", True)]),
        ("not_last_modified={-r2}", [("r3", True), ("r4", False), ("r1", False)]),
        ("_since={r1}&_before={-r3}", [("r2", True), ("r4", False)]),
    ],
)
def test_filters_on_last_modified_include_tombstones(
    empty_collection: webtest.TestApp, synced: dict[str, int], query: str, expected: list
) -> None:
    assert listing(empty_collection, query.format_map(synced)) == expected


def test_to_is_a_deprecated_alias_of_before(
    empty_collection: webtest.TestApp, synced: dict[str, int]
) -> None:
    app = empty_collection
    response = app.get(f"{RECORDS}?_to={synced['-r3']}", headers=ALICE)
    before = app.get(f"{RECORDS}?_before={synced['-r3']}", headers=ALICE)
    assert response.json == before.json
    alert = json.loads(response.headers["Alert"])
    assert alert["code"] == "soft-eol"
    assert alert["message"] == "_to is now deprecated, you should use _before instead"
    assert alert["url"].startswith("https://kinto.readthedocs.io/")
    assert "Alert" not in before.headers


def test_tombstones_are_paginated_with_the_objects(
    empty_collection: webtest.TestApp, synced: dict[str, int]
) -> None:
    app = empty_collection
    response = app.get(f"{RECORDS}?_since=0&_limit=3", headers=ALICE)
    seen = [obj["id"] for obj in response.json["data"]]
    response = app.get(response.headers["Next-Page"], headers=ALICE)
    seen += [obj["id"] for obj in response.json["data"]]
    assert seen == ["r3", "r2", "r4", "r1"]
    assert "Next-Page" not in response.headers


def test_recreating_a_deleted_object_replaces_its_tombstone(
    empty_collection: webtest.TestApp, synced: dict[str, int]
) -> None:
    app = empty_collection
    app.put_json(f"{RECORDS}/r2", {"data": {"name": "again"}}, headers=ALICE, status=201)
    assert listing(app, "_since=0") == [("r2", False), ("r3", True), ("r4", False), ("r1", False)]
    app.get(f"{RECORDS}/r3", headers=ALICE, status=404)


def test_deleting_many_leaves_tombstones(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    for index in range(3):
        app.put_json(f"{RECORDS}/r{index}", {"data": {"n": index}}, headers=ALICE)
    before = app.get(RECORDS, headers=ALICE).headers["ETag"]
    deleted = app.delete(f"{RECORDS}?in_n=0,2", headers=ALICE).json["data"]
    assert sorted(obj["id"] for obj in deleted) == ["r0", "r2"]
    assert all(obj["deleted"] for obj in deleted)
    assert listing(app) == [("r1", False)]
    newest_first = sorted(deleted, key=lambda obj: obj["last_modified"], reverse=True)
    # ``_since`` also takes the ETag as it is, quotes included.
    assert listing(app, f"_since={before}") == [(obj["id"], True) for obj in newest_first]
