"""Collections (``/v1/buckets/{bid}/collections[/{cid}]``)."""

from __future__ import annotations

import re

import webtest

from tests.functional.helpers import ALICE, BOB, MARY, principal

COLLECTIONS = "/v1/buckets/b/collections"


def test_put_creates_a_collection(tree: webtest.TestApp) -> None:
    response = tree.put_json(f"{COLLECTIONS}/new", {"data": {"a": 1}}, headers=ALICE, status=201)
    assert response.json["data"]["id"] == "new"
    assert response.json["data"]["a"] == 1
    assert response.json["permissions"] == {"write": [principal("alice")]}


def test_post_creates_a_collection_with_a_generated_name(tree: webtest.TestApp) -> None:
    response = tree.post_json(COLLECTIONS, {}, headers=ALICE, status=201)
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]{7}", response.json["data"]["id"])


def test_post_with_an_existing_id_returns_it_with_200(tree: webtest.TestApp) -> None:
    existing = tree.get(f"{COLLECTIONS}/c", headers=ALICE).json
    response = tree.post_json(COLLECTIONS, {"data": {"id": "c", "z": 1}}, headers=ALICE)
    assert response.status_int == 200
    assert response.json == existing


def test_put_replaces_and_patch_merges(tree: webtest.TestApp) -> None:
    tree.put_json(f"{COLLECTIONS}/c", {"data": {"a": 1}}, headers=ALICE, status=200)
    replaced = tree.put_json(f"{COLLECTIONS}/c", {"data": {"b": 2}}, headers=ALICE).json
    assert "a" not in replaced["data"]
    patched = tree.patch_json(f"{COLLECTIONS}/c", {"data": {"a": 3}}, headers=ALICE).json
    assert (patched["data"]["a"], patched["data"]["b"]) == (3, 2)


def test_schema_and_cache_expires_are_validated(tree: webtest.TestApp) -> None:
    ok = {"data": {"schema": {"type": "object"}, "cache_expires": 10}}
    tree.put_json(f"{COLLECTIONS}/c", ok, headers=ALICE, status=200)
    bad = {"data": {"cache_expires": "soon"}}
    response = tree.put_json(f"{COLLECTIONS}/c", bad, headers=ALICE, status=400)
    assert response.json["errno"] == 107


def test_list_collections(tree: webtest.TestApp) -> None:
    tree.put_json(f"{COLLECTIONS}/other", {}, headers=ALICE)
    ids = [obj["id"] for obj in tree.get(COLLECTIONS, headers=ALICE).json["data"]]
    assert ids == ["other", "c"]


def test_list_is_filtered_to_readable_collections(tree: webtest.TestApp) -> None:
    tree.put_json(
        f"{COLLECTIONS}/shared", {"permissions": {"read": [principal("bob")]}}, headers=ALICE
    )
    ids = [obj["id"] for obj in tree.get(COLLECTIONS, headers=BOB).json["data"]]
    assert ids == ["shared"]


def test_list_is_forbidden_without_any_access(tree: webtest.TestApp) -> None:
    response = tree.get(COLLECTIONS, headers=BOB, status=403)
    assert response.json["errno"] == 121


def test_list_is_empty_for_a_user_who_may_create_collections(tree: webtest.TestApp) -> None:
    tree.patch_json(
        "/v1/buckets/b", {"permissions": {"collection:create": [principal("bob")]}}, headers=ALICE
    )
    assert tree.get(COLLECTIONS, headers=BOB).json == {"data": []}


def test_collection_create_permission_on_the_bucket(tree: webtest.TestApp) -> None:
    tree.patch_json(
        "/v1/buckets/b", {"permissions": {"collection:create": [principal("bob")]}}, headers=ALICE
    )
    response = tree.put_json(f"{COLLECTIONS}/bobs", {}, headers=BOB, status=201)
    assert response.json["permissions"] == {"write": [principal("bob")]}
    # Bob may write his collection, not Alice's, nor create groups.
    tree.patch_json(f"{COLLECTIONS}/c", {"data": {}}, headers=BOB, status=403)
    tree.put_json("/v1/buckets/b/groups/bg", {}, headers=BOB, status=403)
    # Creating collections lets him read the bucket attributes, not modify it.
    assert tree.get("/v1/buckets/b", headers=BOB).json["permissions"] == {}
    tree.patch_json("/v1/buckets/b", {"data": {}}, headers=BOB, status=403)


def test_delete_returns_a_tombstone(tree: webtest.TestApp) -> None:
    response = tree.delete(f"{COLLECTIONS}/c", headers=ALICE, status=200)
    assert response.json["data"]["id"] == "c"
    assert response.json["data"]["deleted"] is True
    tree.get(f"{COLLECTIONS}/c", headers=ALICE, status=404)


def test_delete_removes_records_without_tombstones(tree: webtest.TestApp) -> None:
    records = f"{COLLECTIONS}/c/records"
    tree.put_json(f"{records}/r2", {}, headers=ALICE)
    tree.delete(f"{records}/r2", headers=ALICE)
    tree.delete(f"{COLLECTIONS}/c", headers=ALICE)
    response = tree.get(records, headers=ALICE, status=404)
    assert response.json["errno"] == 111
    tree.put_json(f"{COLLECTIONS}/c", {}, headers=ALICE, status=201)
    # Neither the records nor their tombstones survive the collection.
    assert tree.get(f"{records}?_since=0", headers=ALICE).json == {"data": []}
    tree.get(f"{records}/r", headers=ALICE, status=404)


def test_delete_removes_record_permissions(tree: webtest.TestApp) -> None:
    records = f"{COLLECTIONS}/c/records"
    tree.put_json(
        f"{records}/shared", {"permissions": {"read": [principal("bob")]}}, headers=ALICE
    )
    tree.delete(f"{COLLECTIONS}/c", headers=ALICE)
    tree.put_json(f"{COLLECTIONS}/c", {}, headers=ALICE)
    tree.put_json(f"{records}/shared", {}, headers=ALICE, status=201)
    tree.get(f"{records}/shared", headers=BOB, status=403)


def test_delete_all_collections(tree: webtest.TestApp) -> None:
    tree.put_json(f"{COLLECTIONS}/c2", {}, headers=ALICE)
    response = tree.delete(COLLECTIONS, headers=ALICE, status=200)
    assert sorted(obj["id"] for obj in response.json["data"]) == ["c", "c2"]
    assert tree.get(COLLECTIONS, headers=ALICE).json["data"] == []


def test_unknown_collection_is_a_404_for_bucket_readers(tree: webtest.TestApp) -> None:
    response = tree.get(f"{COLLECTIONS}/unknown", headers=ALICE, status=404)
    assert response.json["errno"] == 110
    assert response.json["details"] == {"id": "unknown", "resource_name": "collection"}


def test_collections_of_an_unknown_bucket_are_forbidden(tree: webtest.TestApp) -> None:
    response = tree.get("/v1/buckets/unknown/collections", headers=ALICE, status=403)
    assert response.json["errno"] == 121


def test_invalid_collection_id(tree: webtest.TestApp) -> None:
    response = tree.put_json(f"{COLLECTIONS}/in%20valid", {}, headers=ALICE, status=400)
    assert response.json["message"] == "path: Invalid object id"


def test_data_id_mismatch(tree: webtest.TestApp) -> None:
    response = tree.put_json(f"{COLLECTIONS}/c", {"data": {"id": "d"}}, headers=ALICE, status=400)
    assert response.json["details"][0]["name"] == "id"


def test_permissions_shown_to_direct_writers_only(tree: webtest.TestApp) -> None:
    tree.patch_json("/v1/buckets/b", {"permissions": {"write": [principal("bob")]}}, headers=ALICE)
    tree.patch_json(
        f"{COLLECTIONS}/c", {"permissions": {"read": [principal("mary")]}}, headers=ALICE
    )
    # Bob writes through the bucket: he may see and change the collection, not its ACL.
    assert tree.get(f"{COLLECTIONS}/c", headers=BOB).json["permissions"] == {}
    assert tree.get(f"{COLLECTIONS}/c", headers=MARY).json["permissions"] == {}
    assert tree.get(f"{COLLECTIONS}/c", headers=ALICE).json["permissions"] == {
        "read": [principal("mary")],
        "write": [principal("alice")],
    }


def test_record_create_permission_lets_read_collection_attributes(tree: webtest.TestApp) -> None:
    tree.patch_json(
        f"{COLLECTIONS}/c", {"permissions": {"record:create": [principal("bob")]}}, headers=ALICE
    )
    tree.get(f"{COLLECTIONS}/c", headers=BOB, status=200)
    # ...but not the records of others.
    assert tree.get(f"{COLLECTIONS}/c/records", headers=BOB).json == {"data": []}
    tree.get(f"{COLLECTIONS}/c/records/r", headers=BOB, status=403)
