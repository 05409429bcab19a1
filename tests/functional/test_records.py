"""Records (``/v1/buckets/{bid}/collections/{cid}/records[/{rid}]``)."""

from __future__ import annotations

import uuid

import webtest

from tests.functional.helpers import ALICE, BOB, MARY, principal

RECORDS = "/v1/buckets/b/collections/c/records"


def test_post_creates_a_record_with_a_uuid(tree: webtest.TestApp) -> None:
    response = tree.post_json(RECORDS, {"data": {"title": "t"}}, headers=ALICE, status=201)
    record = response.json["data"]
    assert str(uuid.UUID(record["id"])) == record["id"]
    assert record["title"] == "t"
    assert response.json["permissions"] == {"write": [principal("alice")]}


def test_post_without_body_creates_an_empty_record(tree: webtest.TestApp) -> None:
    response = tree.post(RECORDS, headers=ALICE, status=201)
    assert set(response.json["data"]) == {"id", "last_modified"}


def test_post_with_an_existing_id_returns_it_with_200(tree: webtest.TestApp) -> None:
    existing = tree.get(f"{RECORDS}/r", headers=ALICE).json
    response = tree.post_json(RECORDS, {"data": {"id": "r", "x": 2}}, headers=ALICE)
    assert response.status_int == 200
    assert response.json == existing


def test_post_with_a_new_custom_id(tree: webtest.TestApp) -> None:
    response = tree.post_json(RECORDS, {"data": {"id": "my-id_1"}}, headers=ALICE, status=201)
    assert response.json["data"]["id"] == "my-id_1"


def test_put_creates_then_replaces(tree: webtest.TestApp) -> None:
    tree.put_json(f"{RECORDS}/new", {"data": {"a": 1}}, headers=ALICE, status=201)
    response = tree.put_json(f"{RECORDS}/new", {"data": {"b": 2}}, headers=ALICE, status=200)
    assert response.json["data"]["b"] == 2
    assert "a" not in response.json["data"]


def test_patch_merges_and_changes_the_timestamp(tree: webtest.TestApp) -> None:
    before = tree.get(f"{RECORDS}/r", headers=ALICE).json["data"]
    response = tree.patch_json(f"{RECORDS}/r", {"data": {"y": 2}}, headers=ALICE, status=200)
    after = response.json["data"]
    assert (after["x"], after["y"]) == (1, 2)
    assert after["last_modified"] > before["last_modified"]
    assert response.headers["ETag"] == f'"{after["last_modified"]}"'


def test_patch_of_a_missing_record_is_a_404(tree: webtest.TestApp) -> None:
    response = tree.patch_json(f"{RECORDS}/unknown", {"data": {}}, headers=ALICE, status=404)
    assert response.json["errno"] == 110
    assert response.json["details"] == {"id": "unknown", "resource_name": "record"}


def test_delete_returns_a_tombstone_listed_with_since(tree: webtest.TestApp) -> None:
    etag = tree.get(RECORDS, headers=ALICE).headers["ETag"]
    response = tree.delete(f"{RECORDS}/r", headers=ALICE, status=200)
    tombstone = response.json["data"]
    assert tombstone == {"id": "r", "last_modified": tombstone["last_modified"], "deleted": True}
    assert tree.get(RECORDS, headers=ALICE).json["data"] == []
    changes = tree.get(f"{RECORDS}?_since={etag.strip(chr(34))}", headers=ALICE).json
    assert changes["data"] == [tombstone]
    tree.get(f"{RECORDS}/r", headers=ALICE, status=404)


def test_delete_of_a_missing_record_is_a_404(tree: webtest.TestApp) -> None:
    tree.delete(f"{RECORDS}/unknown", headers=ALICE, status=404)


def test_delete_all_records_of_a_collection(tree: webtest.TestApp) -> None:
    tree.put_json(f"{RECORDS}/r2", {}, headers=ALICE)
    response = tree.delete(RECORDS, headers=ALICE, status=200)
    assert sorted(obj["id"] for obj in response.json["data"]) == ["r", "r2"]
    assert all(obj["deleted"] for obj in response.json["data"])
    assert tree.get(RECORDS, headers=ALICE).json["data"] == []


def test_list_is_filtered_to_records_shared_with_the_user(tree: webtest.TestApp) -> None:
    tree.put_json(
        f"{RECORDS}/for-bob", {"permissions": {"read": [principal("bob")]}}, headers=ALICE
    )
    tree.put_json(
        f"{RECORDS}/by-bob", {"permissions": {"write": [principal("bob")]}}, headers=ALICE
    )
    ids = sorted(record["id"] for record in tree.get(RECORDS, headers=BOB).json["data"])
    assert ids == ["by-bob", "for-bob"]
    tree.get(f"{RECORDS}/r", headers=BOB, status=403)
    tree.get(RECORDS, headers=MARY, status=403)


def test_head_counts_only_shared_records(tree: webtest.TestApp) -> None:
    tree.put_json(
        f"{RECORDS}/for-bob", {"permissions": {"read": [principal("bob")]}}, headers=ALICE
    )
    assert tree.head(RECORDS, headers=BOB).headers["Total-Objects"] == "1"
    assert tree.head(RECORDS, headers=ALICE).headers["Total-Objects"] == "2"


def test_collection_read_gives_read_on_its_records(tree: webtest.TestApp) -> None:
    collection = "/v1/buckets/b/collections/c"
    tree.patch_json(collection, {"permissions": {"read": [principal("bob")]}}, headers=ALICE)
    assert [obj["id"] for obj in tree.get(RECORDS, headers=BOB).json["data"]] == ["r"]
    record = tree.get(f"{RECORDS}/r", headers=BOB).json
    assert record["permissions"] == {}
    tree.patch_json(f"{RECORDS}/r", {"data": {}}, headers=BOB, status=403)
    tree.post_json(RECORDS, {}, headers=BOB, status=403)


def test_collection_write_gives_write_on_its_records(tree: webtest.TestApp) -> None:
    collection = "/v1/buckets/b/collections/c"
    tree.patch_json(collection, {"permissions": {"write": [principal("bob")]}}, headers=ALICE)
    tree.patch_json(f"{RECORDS}/r", {"data": {"by": "bob"}}, headers=BOB, status=200)
    tree.post_json(RECORDS, {}, headers=BOB, status=201)
    tree.delete(f"{RECORDS}/r", headers=BOB, status=200)


def test_record_create_permission(tree: webtest.TestApp) -> None:
    collection = "/v1/buckets/b/collections/c"
    tree.patch_json(
        collection, {"permissions": {"record:create": [principal("bob")]}}, headers=ALICE
    )
    created = tree.post_json(RECORDS, {"data": {"a": 1}}, headers=BOB, status=201).json
    assert created["permissions"] == {"write": [principal("bob")]}
    ids = [obj["id"] for obj in tree.get(RECORDS, headers=BOB).json["data"]]
    assert ids == [created["data"]["id"]]
    tree.put_json(f"{RECORDS}/bobs", {}, headers=BOB, status=201)
    # Replacing Alice's record is a write, not a create.
    tree.put_json(f"{RECORDS}/r", {}, headers=BOB, status=403)


def test_record_write_permission_for_one_record(tree: webtest.TestApp) -> None:
    tree.patch_json(f"{RECORDS}/r", {"permissions": {"write": [principal("bob")]}}, headers=ALICE)
    response = tree.patch_json(f"{RECORDS}/r", {"data": {"y": 1}}, headers=BOB)
    # A direct writer sees the ACL.
    writers = response.json["permissions"]["write"]
    assert sorted(writers) == sorted([principal("alice"), principal("bob")])
    tree.get(f"{RECORDS}/r", headers=BOB, status=200)
    tree.delete(f"{RECORDS}/r", headers=BOB, status=200)


def test_shared_with_everyone(tree: webtest.TestApp) -> None:
    tree.patch_json(f"{RECORDS}/r", {"permissions": {"read": ["system.Everyone"]}}, headers=ALICE)
    tree.get(f"{RECORDS}/r", status=200)
    assert [obj["id"] for obj in tree.get(RECORDS).json["data"]] == ["r"]
    tree.get(f"{RECORDS}/r", headers=MARY, status=200)


def test_everyone_may_write_with_system_everyone(tree: webtest.TestApp) -> None:
    tree.patch_json(f"{RECORDS}/r", {"permissions": {"write": ["system.Everyone"]}}, headers=ALICE)
    response = tree.patch_json(f"{RECORDS}/r", {"data": {"anon": True}}, status=200)
    # Anonymous writers hold write through system.Everyone: they see the ACL.
    assert "system.Everyone" in response.json["permissions"]["write"]


def test_invalid_record_id(tree: webtest.TestApp) -> None:
    for path in (f"{RECORDS}/in%20valid", f"{RECORDS}/_underscore"):
        response = tree.put_json(path, {}, headers=ALICE, status=400)
        assert response.json["message"] == "path: Invalid object id"


def test_data_id_mismatch(tree: webtest.TestApp) -> None:
    tree.put_json(f"{RECORDS}/r", {"data": {"id": "s"}}, headers=ALICE, status=400)
    tree.patch_json(f"{RECORDS}/r", {"data": {"id": "s"}}, headers=ALICE, status=400)


def test_a_collection_of_another_bucket_is_another_collection(tree: webtest.TestApp) -> None:
    tree.put_json("/v1/buckets/b2", {}, headers=ALICE)
    tree.put_json("/v1/buckets/b2/collections/c", {}, headers=ALICE)
    assert tree.get("/v1/buckets/b2/collections/c/records", headers=ALICE).json["data"] == []


def test_if_match_precondition(tree: webtest.TestApp) -> None:
    current = tree.get(f"{RECORDS}/r", headers=ALICE)
    etag = current.headers["ETag"]
    tree.patch_json(f"{RECORDS}/r", {"data": {"v": 1}}, headers=ALICE)
    headers = {**ALICE, "If-Match": etag}
    response = tree.patch_json(f"{RECORDS}/r", {"data": {"v": 2}}, headers=headers, status=412)
    assert response.json["errno"] == 114
    assert response.json["details"]["existing"]["v"] == 1
    fresh = tree.get(f"{RECORDS}/r", headers=ALICE).headers["ETag"]
    tree.patch_json(f"{RECORDS}/r", {"data": {"v": 2}}, headers={**ALICE, "If-Match": fresh})


def test_if_none_match_star_only_creates(tree: webtest.TestApp) -> None:
    headers = {**ALICE, "If-None-Match": "*"}
    tree.put_json(f"{RECORDS}/r", {}, headers=headers, status=412)
    tree.put_json(f"{RECORDS}/new", {}, headers=headers, status=201)


def test_if_none_match_gives_304_when_unchanged(tree: webtest.TestApp) -> None:
    etag = tree.get(RECORDS, headers=ALICE).headers["ETag"]
    tree.get(RECORDS, headers={**ALICE, "If-None-Match": etag}, status=304)
    tree.patch_json(f"{RECORDS}/r", {"data": {"v": 1}}, headers=ALICE)
    tree.get(RECORDS, headers={**ALICE, "If-None-Match": etag}, status=200)


def test_writing_a_record_bumps_the_collection_timestamp(tree: webtest.TestApp) -> None:
    before = int(tree.get(RECORDS, headers=ALICE).headers["ETag"].strip('"'))
    record = tree.put_json(f"{RECORDS}/r2", {}, headers=ALICE).json["data"]
    after = int(tree.get(RECORDS, headers=ALICE).headers["ETag"].strip('"'))
    assert after == record["last_modified"] > before


def test_post_with_an_existing_id_checks_preconditions(tree: webtest.TestApp) -> None:
    for precondition in ({"If-None-Match": "*"}, {"If-Match": '"1"'}):
        response = tree.post_json(
            RECORDS, {"data": {"id": "r"}}, headers={**ALICE, **precondition}, status=412
        )
        assert response.json["errno"] == 114
        assert response.json["details"]["existing"]["id"] == "r"
    headers = {**ALICE, "If-None-Match": "*"}
    tree.post_json(RECORDS, {"data": {"id": "new"}}, headers=headers, status=201)


def test_delete_all_deletes_only_what_the_user_may_write(tree: webtest.TestApp) -> None:
    tree.put_json(f"{RECORDS}/bobs", {"permissions": {"write": [principal("bob")]}}, headers=ALICE)
    tree.put_json(f"{RECORDS}/seen", {"permissions": {"read": [principal("bob")]}}, headers=ALICE)
    response = tree.delete(RECORDS, headers=BOB, status=200)
    assert [obj["id"] for obj in response.json["data"]] == ["bobs"]
    remaining = sorted(obj["id"] for obj in tree.get(RECORDS, headers=ALICE).json["data"])
    assert remaining == ["r", "seen"]
