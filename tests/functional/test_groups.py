"""Groups (``/v1/buckets/{bid}/groups[/{gid}]``) and sharing with them."""

from __future__ import annotations

import webtest

from tests.functional.helpers import ALICE, BOB, MARY, principal

GROUPS = "/v1/buckets/b/groups"
GROUP_URI = "/buckets/b/groups/friends"


def principals_of(app: webtest.TestApp, headers: dict[str, str]) -> list[str]:
    return app.get("/v1/", headers=headers).json["user"]["principals"]


def share_bucket_with_friends(app: webtest.TestApp) -> None:
    app.patch_json("/v1/buckets/b", {"permissions": {"read": [GROUP_URI]}}, headers=ALICE)


def test_put_creates_a_group(tree: webtest.TestApp) -> None:
    body = {"data": {"members": [principal("bob")]}}
    response = tree.put_json(f"{GROUPS}/friends", body, headers=ALICE, status=201)
    assert response.json["data"]["members"] == [principal("bob")]
    assert response.json["permissions"] == {"write": [principal("alice")]}


def test_members_default_to_an_empty_list(tree: webtest.TestApp) -> None:
    response = tree.put_json(f"{GROUPS}/friends", {"data": {}}, headers=ALICE, status=201)
    assert response.json["data"]["members"] == []


def test_post_with_an_existing_id_returns_it_with_200(tree: webtest.TestApp) -> None:
    existing = tree.get(f"{GROUPS}/g", headers=ALICE).json
    response = tree.post_json(GROUPS, {"data": {"id": "g", "members": ["x"]}}, headers=ALICE)
    assert response.status_int == 200
    assert response.json == existing


def test_members_are_validated(tree: webtest.TestApp) -> None:
    for members in (["system.Everyone"], ["/buckets/b/groups/other"], "bob"):
        body = {"data": {"members": members}}
        response = tree.put_json(f"{GROUPS}/friends", body, headers=ALICE, status=400)
        assert response.json["errno"] == 107
        assert response.json["details"][0]["name"].startswith("data.members")


def test_group_permissions_are_read_and_write_only(tree: webtest.TestApp) -> None:
    body = {"permissions": {"record:create": ["x"]}}
    tree.put_json(f"{GROUPS}/friends", body, headers=ALICE, status=400)


def test_members_get_the_group_principal(tree: webtest.TestApp) -> None:
    body = {"data": {"members": [principal("bob")]}}
    tree.put_json(f"{GROUPS}/friends", body, headers=ALICE)
    assert GROUP_URI in principals_of(tree, BOB)
    assert GROUP_URI not in principals_of(tree, MARY)


def test_sharing_with_a_group(tree: webtest.TestApp) -> None:
    tree.put_json(f"{GROUPS}/friends", {"data": {"members": [principal("bob")]}}, headers=ALICE)
    share_bucket_with_friends(tree)
    tree.get("/v1/buckets/b", headers=BOB, status=200)
    tree.get("/v1/buckets/b/collections/c/records/r", headers=BOB, status=200)
    tree.get("/v1/buckets/b", headers=MARY, status=403)


def test_adding_a_member_with_patch_grants(tree: webtest.TestApp) -> None:
    tree.put_json(f"{GROUPS}/friends", {}, headers=ALICE)
    share_bucket_with_friends(tree)
    tree.get("/v1/buckets/b", headers=MARY, status=403)
    body = {"data": {"members": [principal("mary")]}}
    tree.patch_json(f"{GROUPS}/friends", body, headers=ALICE)
    tree.get("/v1/buckets/b", headers=MARY, status=200)


def test_removing_a_member_revokes(tree: webtest.TestApp) -> None:
    members = [principal("bob"), principal("mary")]
    tree.put_json(f"{GROUPS}/friends", {"data": {"members": members}}, headers=ALICE)
    share_bucket_with_friends(tree)
    tree.put_json(f"{GROUPS}/friends", {"data": {"members": [principal("mary")]}}, headers=ALICE)
    tree.get("/v1/buckets/b", headers=BOB, status=403)
    tree.get("/v1/buckets/b", headers=MARY, status=200)
    assert GROUP_URI not in principals_of(tree, BOB)


def test_deleting_the_group_revokes(tree: webtest.TestApp) -> None:
    tree.put_json(f"{GROUPS}/friends", {"data": {"members": [principal("bob")]}}, headers=ALICE)
    share_bucket_with_friends(tree)
    response = tree.delete(f"{GROUPS}/friends", headers=ALICE, status=200)
    assert response.json["data"]["deleted"] is True
    tree.get("/v1/buckets/b", headers=BOB, status=403)
    assert GROUP_URI not in principals_of(tree, BOB)


def test_recreating_a_deleted_group_does_not_restore_members(tree: webtest.TestApp) -> None:
    tree.put_json(f"{GROUPS}/friends", {"data": {"members": [principal("bob")]}}, headers=ALICE)
    tree.delete(f"{GROUPS}/friends", headers=ALICE)
    tree.put_json(f"{GROUPS}/friends", {}, headers=ALICE, status=201)
    assert GROUP_URI not in principals_of(tree, BOB)


def test_deleting_all_groups_revokes(tree: webtest.TestApp) -> None:
    tree.put_json(f"{GROUPS}/friends", {"data": {"members": [principal("bob")]}}, headers=ALICE)
    share_bucket_with_friends(tree)
    response = tree.delete(GROUPS, headers=ALICE, status=200)
    assert sorted(obj["id"] for obj in response.json["data"]) == ["friends", "g"]
    tree.get("/v1/buckets/b", headers=BOB, status=403)
    assert GROUP_URI not in principals_of(tree, BOB)


def test_system_authenticated_member_gives_the_group_to_everyone_logged_in(
    tree: webtest.TestApp,
) -> None:
    body = {"data": {"members": ["system.Authenticated"]}}
    tree.put_json(f"{GROUPS}/friends", body, headers=ALICE)
    share_bucket_with_friends(tree)
    tree.get("/v1/buckets/b", headers=MARY, status=200)
    tree.get("/v1/buckets/b", status=401)


def test_bucket_readers_list_all_groups(tree: webtest.TestApp) -> None:
    tree.put_json(f"{GROUPS}/friends", {"data": {"members": [principal("bob")]}}, headers=ALICE)
    share_bucket_with_friends(tree)
    ids = [group["id"] for group in tree.get(GROUPS, headers=BOB).json["data"]]
    assert ids == ["friends", "g"]
    tree.get(f"{GROUPS}/g", headers=BOB, status=200)
    tree.patch_json(f"{GROUPS}/g", {"data": {"members": []}}, headers=BOB, status=403)


def test_group_create_permission_on_the_bucket(tree: webtest.TestApp) -> None:
    tree.patch_json(
        "/v1/buckets/b", {"permissions": {"group:create": [principal("bob")]}}, headers=ALICE
    )
    assert tree.get(GROUPS, headers=BOB).json == {"data": []}
    tree.put_json(f"{GROUPS}/bobs", {"data": {"members": []}}, headers=BOB, status=201)
    assert [g["id"] for g in tree.get(GROUPS, headers=BOB).json["data"]] == ["bobs"]
    tree.get(f"{GROUPS}/g", headers=BOB, status=403)


def test_unknown_group(tree: webtest.TestApp) -> None:
    response = tree.get(f"{GROUPS}/unknown", headers=ALICE, status=404)
    assert response.json["errno"] == 110
    assert response.json["details"] == {"id": "unknown", "resource_name": "group"}


def test_group_of_another_bucket_is_unaffected_by_this_one(tree: webtest.TestApp) -> None:
    tree.put_json("/v1/buckets/other", {}, headers=ALICE)
    body = {"data": {"members": [principal("bob")]}}
    tree.put_json("/v1/buckets/other/groups/friends", body, headers=ALICE)
    tree.put_json(f"{GROUPS}/friends", body, headers=ALICE)
    tree.delete(f"{GROUPS}/friends", headers=ALICE)
    principals = principals_of(tree, BOB)
    assert "/buckets/other/groups/friends" in principals
    assert GROUP_URI not in principals


def test_invalid_group_id(tree: webtest.TestApp) -> None:
    response = tree.put_json(f"{GROUPS}/in%20valid", {}, headers=ALICE, status=400)
    assert response.json["message"] == "path: Invalid object id"
    assert response.json["details"] == [
        {"location": "path", "name": None, "description": "Invalid object id"}
    ]


def test_data_id_mismatch(tree: webtest.TestApp) -> None:
    response = tree.put_json(f"{GROUPS}/g", {"data": {"id": "h"}}, headers=ALICE, status=400)
    assert response.json["details"] == [
        {
            "location": "body",
            "name": "id",
            "description": "Object id does not match existing object",
        }
    ]


def test_group_writers_see_the_permissions(tree: webtest.TestApp) -> None:
    tree.put_json(f"{GROUPS}/friends", {"data": {"members": [principal("bob")]}}, headers=ALICE)
    record = "/v1/buckets/b/collections/c/records/r"
    tree.patch_json(record, {"permissions": {"write": [GROUP_URI]}}, headers=ALICE)
    permissions = tree.get(record, headers=BOB).json["permissions"]
    assert sorted(permissions["write"]) == sorted([GROUP_URI, principal("alice")])
