"""Buckets: the top of the tree (``/v1/buckets``, ``/v1/buckets/{id}``)."""

from __future__ import annotations

import re

import pytest
import webtest

from tests.functional.helpers import ALICE, ANONYMOUS, BOB, MARY, principal


def test_put_creates_a_bucket_and_its_creator_gets_write(app: webtest.TestApp) -> None:
    response = app.put_json("/v1/buckets/b", {"data": {"title": "B"}}, headers=ALICE, status=201)
    assert response.json["data"]["id"] == "b"
    assert response.json["data"]["title"] == "B"
    assert isinstance(response.json["data"]["last_modified"], int)
    assert response.json["permissions"] == {"write": [principal("alice")]}
    assert response.headers["ETag"] == f'"{response.json["data"]["last_modified"]}"'


def test_put_without_body_creates_an_empty_bucket(app: webtest.TestApp) -> None:
    response = app.put("/v1/buckets/b", headers=ALICE, status=201)
    assert set(response.json["data"]) == {"id", "last_modified"}


def test_post_creates_a_bucket_with_a_generated_name(app: webtest.TestApp) -> None:
    response = app.post_json("/v1/buckets", {"data": {"a": 1}}, headers=ALICE, status=201)
    bucket_id = response.json["data"]["id"]
    # Kinto's NameGenerator: 8 characters, starting with a letter or digit.
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]{7}", bucket_id)
    app.get(f"/v1/buckets/{bucket_id}", headers=ALICE, status=200)


def test_post_with_an_existing_id_returns_it_with_200(app: webtest.TestApp) -> None:
    created = app.put_json("/v1/buckets/b", {"data": {"a": 1}}, headers=ALICE).json
    response = app.post_json("/v1/buckets", {"data": {"id": "b", "a": 2}}, headers=ALICE)
    assert response.status_int == 200
    assert response.json == created


def test_post_with_an_existing_id_needs_read_on_it(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    response = app.post_json("/v1/buckets", {"data": {"id": "b"}}, headers=BOB, status=403)
    assert response.json["errno"] == 121


def test_put_replaces_the_data(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {"data": {"a": 1}}, headers=ALICE)
    response = app.put_json("/v1/buckets/b", {"data": {"b": 2}}, headers=ALICE, status=200)
    assert response.json["data"]["b"] == 2
    assert "a" not in response.json["data"]


def test_patch_merges_the_data(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {"data": {"a": 1}}, headers=ALICE)
    response = app.patch_json("/v1/buckets/b", {"data": {"b": 2}}, headers=ALICE, status=200)
    assert response.json["data"]["a"] == 1
    assert response.json["data"]["b"] == 2


def test_delete_returns_a_tombstone(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    response = app.delete("/v1/buckets/b", headers=ALICE, status=200)
    data = response.json["data"]
    assert data["id"] == "b"
    assert data["deleted"] is True
    assert isinstance(data["last_modified"], int)
    app.get("/v1/buckets/b", headers=ALICE, status=403)


def test_list_shows_only_readable_buckets(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/alice-only", {}, headers=ALICE)
    app.put_json(
        "/v1/buckets/shared", {"permissions": {"read": [principal("bob")]}}, headers=ALICE
    )
    app.put_json("/v1/buckets/bobs", {}, headers=BOB)
    alice_sees = {b["id"] for b in app.get("/v1/buckets", headers=ALICE).json["data"]}
    bob_sees = {b["id"] for b in app.get("/v1/buckets", headers=BOB).json["data"]}
    assert alice_sees == {"alice-only", "shared"}
    assert bob_sees == {"shared", "bobs"}


def test_list_is_empty_for_a_user_who_may_create_buckets(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    assert app.get("/v1/buckets", headers=BOB).json == {"data": []}


def test_anonymous_list_asks_for_credentials(app: webtest.TestApp) -> None:
    response = app.get("/v1/buckets", headers=ANONYMOUS, status=401)
    assert response.json["errno"] == 104
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_anonymous_sees_buckets_shared_with_everyone(app: webtest.TestApp) -> None:
    app.put_json(
        "/v1/buckets/public", {"permissions": {"read": ["system.Everyone"]}}, headers=ALICE
    )
    app.put_json("/v1/buckets/private", {}, headers=ALICE)
    assert [b["id"] for b in app.get("/v1/buckets").json["data"]] == ["public"]
    app.get("/v1/buckets/public", status=200)
    app.get("/v1/buckets/private", status=401)


def test_anonymous_cannot_create_buckets(app: webtest.TestApp) -> None:
    response = app.post_json("/v1/buckets", {}, status=401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    app.put_json("/v1/buckets/b", {}, status=401)


def test_invalid_bucket_id_is_a_400_on_the_object_url(app: webtest.TestApp) -> None:
    response = app.put_json("/v1/buckets/in%20valid", {}, headers=ALICE, status=400)
    assert response.json["errno"] == 107
    assert response.json["message"] == "path: Invalid object id"
    assert response.json["details"][0]["location"] == "path"


def test_invalid_bucket_id_in_a_post_is_a_400(app: webtest.TestApp) -> None:
    response = app.post_json("/v1/buckets", {"data": {"id": "a b"}}, headers=ALICE, status=400)
    assert response.json["errno"] == 107


def test_data_id_must_match_the_url(app: webtest.TestApp) -> None:
    response = app.put_json("/v1/buckets/b", {"data": {"id": "c"}}, headers=ALICE, status=400)
    assert response.json["errno"] == 107
    assert response.json["message"] == "Object id does not match existing object"


def test_permissions_are_shown_to_writers_only(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {"permissions": {"read": [principal("bob")]}}, headers=ALICE)
    alice_view = app.get("/v1/buckets/b", headers=ALICE).json
    bob_view = app.get("/v1/buckets/b", headers=BOB).json
    assert alice_view["permissions"] == {
        "read": [principal("bob")],
        "write": [principal("alice")],
    }
    assert bob_view["permissions"] == {}
    assert bob_view["data"] == alice_view["data"]


def test_put_resets_unlisted_permissions(app: webtest.TestApp) -> None:
    app.put_json(
        "/v1/buckets/b",
        {"permissions": {"read": [principal("mary")], "collection:create": ["system.Everyone"]}},
        headers=ALICE,
    )
    response = app.put_json(
        "/v1/buckets/b", {"permissions": {"group:create": [principal("bob")]}}, headers=ALICE
    )
    # The writer re-added as the author of the change; read and collection:create reset.
    assert response.json["permissions"] == {
        "group:create": [principal("bob")],
        "write": [principal("alice")],
    }
    app.get("/v1/buckets/b", headers=MARY, status=403)


def test_put_without_permissions_keeps_them(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {"permissions": {"read": [principal("bob")]}}, headers=ALICE)
    response = app.put_json("/v1/buckets/b", {"data": {"a": 1}}, headers=ALICE)
    assert response.json["permissions"]["read"] == [principal("bob")]


def test_patch_permissions_replaces_only_the_given_ones(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {"permissions": {"read": [principal("bob")]}}, headers=ALICE)
    response = app.patch_json(
        "/v1/buckets/b", {"permissions": {"collection:create": [principal("bob")]}}, headers=ALICE
    )
    assert response.json["permissions"] == {
        "read": [principal("bob")],
        "collection:create": [principal("bob")],
        "write": [principal("alice")],
    }


def test_unknown_permission_is_rejected(app: webtest.TestApp) -> None:
    response = app.put_json(
        "/v1/buckets/b", {"permissions": {"record:create": ["x"]}}, headers=ALICE, status=400
    )
    assert response.json["errno"] == 107


def test_sharing_write_lets_another_user_modify_and_delete(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {"permissions": {"write": [principal("bob")]}}, headers=ALICE)
    response = app.patch_json("/v1/buckets/b", {"data": {"by": "bob"}}, headers=BOB)
    # Bob is now a writer too, and sees the permissions.
    assert sorted(response.json["permissions"]["write"]) == sorted(
        [principal("alice"), principal("bob")]
    )
    app.delete("/v1/buckets/b", headers=BOB, status=200)


def test_delete_all_buckets_deletes_only_writable_ones(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/a1", {}, headers=ALICE)
    app.put_json("/v1/buckets/a2", {}, headers=ALICE)
    app.put_json("/v1/buckets/b1", {"permissions": {"read": [principal("alice")]}}, headers=BOB)
    response = app.delete("/v1/buckets", headers=ALICE, status=200)
    assert sorted(obj["id"] for obj in response.json["data"]) == ["a1", "a2"]
    assert all(obj["deleted"] for obj in response.json["data"])
    assert [b["id"] for b in app.get("/v1/buckets", headers=BOB).json["data"]] == ["b1"]


def test_someone_else_cannot_read_or_write_a_private_bucket(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    for method in ("get", "delete"):
        response = getattr(app, method)("/v1/buckets/b", headers=BOB, status=403)
        assert response.json["errno"] == 121
    app.put_json("/v1/buckets/b", {}, headers=BOB, status=403)
    app.patch_json("/v1/buckets/b", {"data": {}}, headers=BOB, status=403)


def test_delete_cascades_to_everything_inside(tree: webtest.TestApp) -> None:
    read_by_bob = {"permissions": {"read": [principal("bob")]}}
    tree.patch_json("/v1/buckets/b/groups/g", read_by_bob, headers=ALICE)
    tree.patch_json("/v1/buckets/b/collections/c", read_by_bob, headers=ALICE)
    tree.patch_json("/v1/buckets/b/collections/c/records/r", read_by_bob, headers=ALICE)
    tree.put_json("/v1/buckets/b/collections/c/records/gone", {}, headers=ALICE)
    tree.delete("/v1/buckets/b/collections/c/records/gone", headers=ALICE)

    tree.delete("/v1/buckets/b", headers=ALICE, status=200)

    tree.get("/v1/buckets/b/collections/c/records/r", headers=BOB, status=403)
    # A new bucket with the same name starts empty, without tombstones...
    tree.put_json("/v1/buckets/b", {}, headers=ALICE, status=201)
    for plural in ("groups", "collections"):
        assert tree.get(f"/v1/buckets/b/{plural}?_since=0", headers=ALICE).json == {"data": []}
    tree.get("/v1/buckets/b/collections/c/records", headers=ALICE, status=404)
    # ...and objects recreated with the old names do not inherit the old permissions.
    tree.put_json("/v1/buckets/b/groups/g", {}, headers=ALICE, status=201)
    tree.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE, status=201)
    tree.put_json("/v1/buckets/b/collections/c/records/r", {}, headers=ALICE, status=201)
    for path in ("groups/g", "collections/c", "collections/c/records/r"):
        tree.get(f"/v1/buckets/b/{path}", headers=BOB, status=403)
        permissions = tree.get(f"/v1/buckets/b/{path}", headers=ALICE).json["permissions"]
        assert permissions == {"write": [principal("alice")]}
    tree.get("/v1/buckets/b/collections/c/records/gone", headers=ALICE, status=404)
    records = tree.get("/v1/buckets/b/collections/c/records?_since=0", headers=ALICE).json
    assert [record["id"] for record in records["data"]] == ["r"]


@pytest.mark.clone_only
def test_delete_removes_the_group_memberships(tree: webtest.TestApp) -> None:
    # Kinto 26.5.0 keeps them: a group recreated with the same name, and any
    # permission given to it, would silently include the old members again.
    tree.put_json(
        "/v1/buckets/b/groups/g", {"data": {"members": [principal("bob")]}}, headers=ALICE
    )
    assert "/buckets/b/groups/g" in tree.get("/v1/", headers=BOB).json["user"]["principals"]
    tree.delete("/v1/buckets/b", headers=ALICE, status=200)
    assert "/buckets/b/groups/g" not in tree.get("/v1/", headers=BOB).json["user"]["principals"]
    tree.put_json("/v1/buckets/b", {}, headers=ALICE)
    tree.put_json("/v1/buckets/b/groups/g", {"data": {"members": []}}, headers=ALICE)
    tree.patch_json(
        "/v1/buckets/b", {"permissions": {"read": ["/buckets/b/groups/g"]}}, headers=ALICE
    )
    tree.get("/v1/buckets/b", headers=BOB, status=403)
