"""Deleting a bucket or a collection removes everything inside, however much.

``storage_max_fetch_size`` caps pages and bulk deletions of objects: the
cascades must not stop there, or the children beyond it (and their ACEs and
memberships) would outlive their parent and reappear in a namesake.  The apps
here have a cap of :data:`FETCH_SIZE` and hold more children than that.
"""

from __future__ import annotations

import pytest
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE, BOB, principal

FETCH_SIZE = 5
MANY = 3 * FETCH_SIZE + 1
B = "/v1/buckets/b"
READ_BY_BOB = {"permissions": {"read": [principal("bob")]}}


@pytest.fixture
def capped(make_app: MakeApp) -> webtest.TestApp:
    """Alice's empty bucket ``b``, on an app fetching at most :data:`FETCH_SIZE` objects."""
    app = make_app(**{"kinto.storage_max_fetch_size": str(FETCH_SIZE)})
    app.put_json(B, {}, headers=ALICE)
    return app


def fill_collection(app: webtest.TestApp, collection: str, count: int = MANY) -> None:
    """Create ``collection`` with ``count`` records ``r0``... readable by Bob."""
    app.put_json(f"{B}/collections/{collection}", READ_BY_BOB, headers=ALICE)
    for n in range(count):
        app.put_json(f"{B}/collections/{collection}/records/r{n}", READ_BY_BOB, headers=ALICE)


def total(app: webtest.TestApp, path: str) -> int:
    """Live objects of a list, all of them (not a page)."""
    return int(app.head(path, headers=ALICE).headers["Total-Objects"])


def since_zero(app: webtest.TestApp, path: str) -> list[dict]:
    """First page of a list with its tombstones."""
    return app.get(f"{path}?_since=0", headers=ALICE).json["data"]


def granted_to_bob(app: webtest.TestApp) -> dict[str, set[str]]:
    return app.app.registry.permission.get_accessible_objects([principal("bob")])


def test_collection_delete_removes_every_record_permission_and_tombstone(
    capped: webtest.TestApp,
) -> None:
    records = f"{B}/collections/c/records"
    fill_collection(capped, "c")
    for n in range(FETCH_SIZE + 1):
        capped.delete(f"{records}/r{n}", headers=ALICE)
    assert total(capped, records) == MANY - FETCH_SIZE - 1

    capped.delete(f"{B}/collections/c", headers=ALICE, status=200)

    assert granted_to_bob(capped) == {}
    capped.put_json(f"{B}/collections/c", {}, headers=ALICE, status=201)
    assert since_zero(capped, records) == []
    assert total(capped, records) == 0


def test_recreated_collection_is_empty(capped: webtest.TestApp) -> None:
    records = f"{B}/collections/c/records"
    fill_collection(capped, "c")
    fill_collection(capped, "other", count=1)
    capped.delete(f"{B}/collections/c", headers=ALICE)

    capped.put_json(f"{B}/collections/c", {}, headers=ALICE, status=201)
    capped.put_json(f"{records}/new", {}, headers=ALICE, status=201)

    assert [record["id"] for record in since_zero(capped, records)] == ["new"]
    assert total(capped, records) == 1
    for n in range(MANY):
        capped.get(f"{records}/r{n}", headers=ALICE, status=404)
    # The neighbour keeps its record and its permissions.
    capped.get(f"{B}/collections/other/records/r0", headers=BOB, status=200)


def test_bucket_delete_removes_every_child_permission_and_membership(
    capped: webtest.TestApp,
) -> None:
    for n in range(MANY):
        group = {"data": {"members": [principal("bob")]}, **READ_BY_BOB}
        capped.put_json(f"{B}/groups/g{n}", group, headers=ALICE)
        capped.put_json(f"{B}/collections/c{n}", READ_BY_BOB, headers=ALICE)
    fill_collection(capped, "c0")
    bob_principals = capped.get("/v1/", headers=BOB).json["user"]["principals"]
    assert len([p for p in bob_principals if p.startswith("/buckets/b/groups/")]) == MANY

    capped.delete(B, headers=ALICE, status=200)

    bob_principals = capped.get("/v1/", headers=BOB).json["user"]["principals"]
    assert not [p for p in bob_principals if p.startswith("/buckets/b/")]
    assert granted_to_bob(capped) == {}
    capped.put_json(B, {}, headers=ALICE, status=201)
    for plural in ("groups", "collections"):
        assert since_zero(capped, f"{B}/{plural}") == []
        assert total(capped, f"{B}/{plural}") == 0
    capped.put_json(f"{B}/collections/c0", {}, headers=ALICE, status=201)
    assert since_zero(capped, f"{B}/collections/c0/records") == []


def test_failed_bucket_delete_keeps_every_child(make_app: MakeApp) -> None:
    app = make_app(
        **{
            "kinto.storage_max_fetch_size": str(FETCH_SIZE),
            "kinto.includes": "tests.functional.exploding_plugin",
        }
    )
    app.put_json(B, {"data": {"explode_on_delete": True}}, headers=ALICE)
    fill_collection(app, "c")

    app.delete(B, headers=ALICE, status=500)

    assert total(app, f"{B}/collections/c/records") == MANY
    app.get(f"{B}/collections/c/records/r{MANY - 1}", headers=BOB, status=200)
