"""The permission model: Kinto's inheritance tree and settings-granted principals."""

from __future__ import annotations

import pytest
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE, ANONYMOUS, BOB, MARY, principal, send

B = "/v1/buckets/b"

# What Bob may try; each ability is one request on Alice's tree.
ABILITIES: dict[str, tuple[str, str]] = {
    "read bucket": ("GET", B),
    "write bucket": ("PATCH", B),
    "create collection": ("PUT", f"{B}/collections/new"),
    "create group": ("PUT", f"{B}/groups/new"),
    "read group": ("GET", f"{B}/groups/g"),
    "write group": ("PATCH", f"{B}/groups/g"),
    "read collection": ("GET", f"{B}/collections/c"),
    "write collection": ("PATCH", f"{B}/collections/c"),
    "create record": ("PUT", f"{B}/collections/c/records/new"),
    "read record": ("GET", f"{B}/collections/c/records/r"),
    "write record": ("PATCH", f"{B}/collections/c/records/r"),
}
READ_ALL = {"read bucket", "read group", "read collection", "read record"}

# (object, permission granted to Bob) -> abilities it gives him.
INHERITANCE = {
    ("", "write"): set(ABILITIES),
    ("", "read"): READ_ALL,
    ("", "collection:create"): {"read bucket", "create collection"},
    ("", "group:create"): {"read bucket", "create group"},
    ("/groups/g", "read"): {"read group"},
    ("/groups/g", "write"): {"read group", "write group"},
    ("/collections/c", "read"): {"read collection", "read record"},
    ("/collections/c", "write"): {
        "read collection",
        "write collection",
        "create record",
        "read record",
        "write record",
    },
    ("/collections/c", "record:create"): {"read collection", "create record"},
    ("/collections/c/records/r", "read"): {"read record"},
    ("/collections/c/records/r", "write"): {"read record", "write record"},
}


def attempt(app: webtest.TestApp, ability: str, headers: dict[str, str]) -> int:
    method, path = ABILITIES[ability]
    body = {"data": {"touched": True}} if method == "PATCH" else {}
    return send(app, method, path, headers, body).status_int


@pytest.mark.parametrize(("suffix", "permission"), list(INHERITANCE))
def test_inheritance(tree: webtest.TestApp, suffix: str, permission: str) -> None:
    tree.patch_json(
        f"{B}{suffix}", {"permissions": {permission: [principal("bob")]}}, headers=ALICE
    )
    granted = INHERITANCE[(suffix, permission)]
    outcome = {ability: attempt(tree, ability, BOB) for ability in ABILITIES}
    expected = {ability: (ability in granted) for ability in ABILITIES}
    assert {ability: status < 400 for ability, status in outcome.items()} == expected, outcome
    assert {status for status in outcome.values() if status >= 400} <= {403}


def test_no_permission_gives_nothing(tree: webtest.TestApp) -> None:
    outcome = {ability: attempt(tree, ability, BOB) for ability in ABILITIES}
    assert set(outcome.values()) == {403}


def test_a_group_member_inherits_like_a_user(tree: webtest.TestApp) -> None:
    tree.patch_json(f"{B}/groups/g", {"data": {"members": [principal("bob")]}}, headers=ALICE)
    tree.patch_json(
        f"{B}/collections/c", {"permissions": {"write": ["/buckets/b/groups/g"]}}, headers=ALICE
    )
    assert attempt(tree, "write record", BOB) == 200
    assert attempt(tree, "write record", MARY) == 403


def test_system_authenticated_grants_every_logged_in_user(tree: webtest.TestApp) -> None:
    tree.patch_json(
        f"{B}/collections/c", {"permissions": {"read": ["system.Authenticated"]}}, headers=ALICE
    )
    assert attempt(tree, "read record", MARY) == 200
    assert attempt(tree, "read record", ANONYMOUS) == 401


def test_write_on_a_child_does_not_reveal_the_parent(tree: webtest.TestApp) -> None:
    tree.patch_json(
        f"{B}/collections/c/records/r",
        {"permissions": {"write": [principal("bob")]}},
        headers=ALICE,
    )
    tree.get(f"{B}/collections/c", headers=BOB, status=403)
    tree.get(B, headers=BOB, status=403)
    # Listing the records shows only the shared one.
    records = tree.get(f"{B}/collections/c/records", headers=BOB).json["data"]
    assert [record["id"] for record in records] == ["r"]


def test_bucket_create_principals_setting(make_app: MakeApp) -> None:
    app = make_app(**{"kinto.bucket_create_principals": principal("alice")})
    app.put_json("/v1/buckets/a", {}, headers=ALICE, status=201)
    response = app.put_json("/v1/buckets/b", {}, headers=BOB, status=403)
    assert response.json["errno"] == 121
    app.post_json("/v1/buckets", {}, headers=BOB, status=403)
    app.get("/v1/buckets", headers=BOB, status=403)


def test_bucket_create_principals_may_list_several_principals(make_app: MakeApp) -> None:
    app = make_app(
        **{"kinto.bucket_create_principals": f"{principal('alice')} {principal('bob')}"}
    )
    app.put_json("/v1/buckets/a", {}, headers=ALICE, status=201)
    app.put_json("/v1/buckets/b", {}, headers=BOB, status=201)
    app.put_json("/v1/buckets/m", {}, headers=MARY, status=403)


def test_record_read_principals_setting(make_app: MakeApp) -> None:
    app = make_app(**{"kinto.record_read_principals": "system.Everyone"})
    app.put_json(B, {}, headers=ALICE)
    app.put_json(f"{B}/collections/c", {}, headers=ALICE)
    app.put_json(f"{B}/collections/c/records/r", {}, headers=ALICE)
    app.get(f"{B}/collections/c/records/r", status=200)
    assert [r["id"] for r in app.get(f"{B}/collections/c/records").json["data"]] == ["r"]
    # Not inherited downward nor upward: the collection itself stays private.
    app.get(f"{B}/collections/c", headers=BOB, status=403)
    app.patch_json(f"{B}/collections/c/records/r", {"data": {}}, headers=BOB, status=403)


def test_record_read_principals_still_404_for_unknown_records(make_app: MakeApp) -> None:
    app = make_app(**{"kinto.record_read_principals": "system.Authenticated"})
    app.put_json(B, {}, headers=ALICE)
    app.put_json(f"{B}/collections/c", {}, headers=ALICE)
    response = app.get(f"{B}/collections/c/records/unknown", headers=BOB, status=404)
    assert response.json["errno"] == 110


def test_collection_create_principals_setting(make_app: MakeApp) -> None:
    app = make_app(**{"kinto.collection_create_principals": "system.Authenticated"})
    app.put_json(B, {}, headers=ALICE)
    response = app.put_json(f"{B}/collections/bobs", {}, headers=BOB, status=201)
    assert response.json["permissions"] == {"write": [principal("bob")]}


def test_bucket_write_principals_setting_makes_admins(make_app: MakeApp) -> None:
    app = make_app(**{"kinto.bucket_write_principals": principal("bob")})
    app.put_json(B, {"data": {"v": 1}}, headers=ALICE)
    app.patch_json(B, {"data": {"v": 2}}, headers=BOB, status=200)
    app.delete(B, headers=BOB, status=200)


def test_explicit_permissions_off_gives_the_creator_nothing(make_app: MakeApp) -> None:
    app = make_app(**{"kinto.explicit_permissions": "false"})
    response = app.put_json(B, {}, headers=ALICE, status=201)
    assert response.json["permissions"] == {}
    # Objects rely on inheritance only: nothing grants Alice her own bucket.
    app.get(B, headers=ALICE, status=403)
