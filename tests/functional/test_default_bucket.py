"""The personal ``default`` bucket (``kinto.plugins.default_bucket``)."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

import pytest
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE, BOB, default_bucket_id, principal

TASKS = "/v1/buckets/default/collections/tasks"


def test_bucket_id_is_derived_from_the_user_id(app: webtest.TestApp) -> None:
    response = app.get("/v1/buckets/default", headers=ALICE, status=200)
    bucket_id = response.json["data"]["id"]
    assert bucket_id == default_bucket_id("alice")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", bucket_id)
    assert response.json["permissions"] == {"write": [principal("alice")]}
    assert default_bucket_id("bob") != bucket_id


def test_hello_shows_the_bucket_id(app: webtest.TestApp) -> None:
    user = app.get("/v1/", headers=ALICE).json["user"]
    assert user["id"] == principal("alice")
    assert user["bucket"] == default_bucket_id("alice")
    assert "user" not in app.get("/v1/").json


def test_hello_does_not_create_the_bucket(app: webtest.TestApp) -> None:
    app.get("/v1/", headers=ALICE)
    assert app.get("/v1/buckets", headers=ALICE).json["data"] == []


def test_anonymous_gets_401(app: webtest.TestApp) -> None:
    for path in ("/v1/buckets/default", f"{TASKS}/records", f"{TASKS}/records/r"):
        response = app.get(path, status=401)
        assert response.json["errno"] == 104
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    app.post_json(f"{TASKS}/records", {}, status=401)


def test_bucket_and_collection_are_created_implicitly(app: webtest.TestApp) -> None:
    assert app.get(f"{TASKS}/records", headers=ALICE).json == {"data": []}
    real = f"/v1/buckets/{default_bucket_id('alice')}"
    collections = app.get(f"{real}/collections", headers=ALICE).json["data"]
    assert [c["id"] for c in collections] == ["tasks"]
    tasks = app.get(f"{real}/collections/tasks", headers=ALICE).json
    assert tasks["permissions"] == {"write": [principal("alice")]}
    buckets = app.get("/v1/buckets", headers=ALICE).json["data"]
    assert [b["id"] for b in buckets] == [default_bucket_id("alice")]


def test_listing_collections_does_not_create_one(app: webtest.TestApp) -> None:
    assert app.get("/v1/buckets/default/collections", headers=ALICE).json == {"data": []}


def test_records_are_visible_through_the_real_bucket_id(app: webtest.TestApp) -> None:
    created = app.post_json(f"{TASKS}/records", {"data": {"a": 1}}, headers=ALICE, status=201)
    record = created.json["data"]
    real = f"/v1/buckets/{default_bucket_id('alice')}/collections/tasks/records"
    assert app.get(real, headers=ALICE).json["data"] == [record]
    assert app.get(f"{real}/{record['id']}", headers=ALICE).json["data"] == record
    app.patch_json(f"{real}/{record['id']}", {"data": {"b": 2}}, headers=ALICE)
    via_default = app.get(f"{TASKS}/records/{record['id']}", headers=ALICE).json["data"]
    assert via_default["b"] == 2


def test_each_user_has_their_own_bucket(app: webtest.TestApp) -> None:
    app.post_json(f"{TASKS}/records", {"data": {"owner": "alice"}}, headers=ALICE)
    assert app.get(f"{TASKS}/records", headers=BOB).json == {"data": []}
    app.get(f"/v1/buckets/{default_bucket_id('alice')}", headers=BOB, status=403)


def test_a_default_bucket_can_be_shared(app: webtest.TestApp) -> None:
    record = app.post_json(f"{TASKS}/records", {}, headers=ALICE).json["data"]
    app.patch_json(
        f"{TASKS}/records/{record['id']}",
        {"permissions": {"read": [principal("bob")]}},
        headers=ALICE,
    )
    real = f"/v1/buckets/{default_bucket_id('alice')}/collections/tasks/records"
    app.get(f"{real}/{record['id']}", headers=BOB, status=200)


def test_put_and_patch_the_default_bucket(app: webtest.TestApp) -> None:
    bucket_id = default_bucket_id("alice")
    response = app.put_json(
        "/v1/buckets/default", {"data": {"id": "default", "x": 1}}, headers=ALICE
    )
    assert response.json["data"]["id"] == bucket_id
    assert response.json["data"]["x"] == 1
    response = app.patch_json("/v1/buckets/default", {"data": {"y": 2}}, headers=ALICE)
    assert (response.json["data"]["x"], response.json["data"]["y"]) == (1, 2)


def test_delete_the_default_bucket_then_use_it_again(app: webtest.TestApp) -> None:
    app.post_json(f"{TASKS}/records", {}, headers=ALICE)
    response = app.delete("/v1/buckets/default", headers=ALICE, status=200)
    assert response.json["data"]["id"] == default_bucket_id("alice")
    assert response.json["data"]["deleted"] is True
    real = f"/v1/buckets/{default_bucket_id('alice')}/collections/tasks/records"
    app.get(real, headers=ALICE, status=403)
    # Using it again creates it again, empty.
    assert app.get(f"{TASKS}/records", headers=ALICE).json == {"data": []}


def test_explicit_collection_put_and_delete(app: webtest.TestApp) -> None:
    response = app.put_json(
        "/v1/buckets/default/collections/notes", {"data": {"z": 1}}, headers=ALICE, status=201
    )
    assert response.json["data"]["z"] == 1
    app.delete("/v1/buckets/default/collections/notes", headers=ALICE, status=200)
    assert app.get("/v1/buckets/default/collections", headers=ALICE).json == {"data": []}


def test_unknown_record_is_a_404(app: webtest.TestApp) -> None:
    response = app.get(f"{TASKS}/records/unknown", headers=ALICE, status=404)
    assert response.json["errno"] == 110


def test_groups_in_the_default_bucket(app: webtest.TestApp) -> None:
    app.put_json(
        "/v1/buckets/default/groups/g", {"data": {"members": []}}, headers=ALICE, status=201
    )
    groups = app.get(f"/v1/buckets/{default_bucket_id('alice')}/groups", headers=ALICE).json
    assert [group["id"] for group in groups["data"]] == ["g"]


def test_invalid_collection_id_is_a_400(app: webtest.TestApp) -> None:
    for path in (
        "/v1/buckets/default/collections/in%20valid",
        "/v1/buckets/default/collections/in%20valid/records",
    ):
        response = app.get(path, headers=ALICE, status=400)
        assert response.json["errno"] == 107
        assert response.json["details"][0]["location"] == "path"
    assert app.get("/v1/buckets/default/collections", headers=ALICE).json == {"data": []}


def test_if_none_match_star_on_the_implicit_bucket(app: webtest.TestApp) -> None:
    response = app.get("/v1/buckets/default", headers={**ALICE, "If-None-Match": "*"}, status=412)
    assert response.json["details"]["existing"]["id"] == default_bucket_id("alice")


def test_an_empty_secret_is_used_as_is(make_app: MakeApp) -> None:
    # Like Kinto 26.5.0: the setting defaults to "", which is a valid HMAC key.
    app = make_app(**{"kinto.default_bucket_hmac_secret": ""})
    digest = hmac.new(b"", principal("alice").encode(), hashlib.sha256).hexdigest()
    expected = str(uuid.UUID(digest[:32]))
    assert app.get("/v1/", headers=ALICE).json["user"]["bucket"] == expected
    assert app.get("/v1/buckets/default", headers=ALICE).json["data"]["id"] == expected


@pytest.mark.clone_only
def test_an_id_containing_default_is_not_rewritten(app: webtest.TestApp) -> None:
    # Kinto 26.5.0 replaces the substring and answers 400 (id mismatch).
    body = {"data": {"id": "default-1"}}
    response = app.put_json(f"{TASKS}/records/default-1", body, headers=ALICE, status=201)
    assert response.json["data"]["id"] == "default-1"
    response = app.post_json("/v1/buckets/default/collections", body, headers=ALICE, status=201)
    assert response.json["data"]["id"] == "default-1"


def test_the_alias_hands_every_header_on(app: webtest.TestApp) -> None:
    created = app.post_json(f"{TASKS}/records", {"data": {"a": 1, "b": 2}}, headers=ALICE)
    record = f"{TASKS}/records/{created.json['data']['id']}"
    etag = created.headers["ETag"]
    # Preconditions, the patch format and the response behaviour all reach the record.
    stale = {**ALICE, "If-Match": '"1"', "Content-Type": "application/json"}
    app.patch(record, '{"data": {"a": 3}}', headers=stale, status=412)
    merge = {
        **ALICE,
        "If-Match": etag,
        "Content-Type": "application/merge-patch+json",
        "Response-Behavior": "light",
    }
    patched = app.patch(record, '{"data": {"a": null, "c": 3}}', headers=merge, status=200)
    assert patched.json["data"] == {"c": 3}
    assert "a" not in app.get(record, headers=ALICE).json["data"]


def test_the_bucket_named_default_in_its_body_gets_a_body_of_its_own_length(
    app: webtest.TestApp,
) -> None:
    response = app.put_json("/v1/buckets/default", {"data": {"id": "default"}}, headers=ALICE)
    assert response.json["data"]["id"] == default_bucket_id("alice")
