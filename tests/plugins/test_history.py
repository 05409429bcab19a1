"""``/v1/buckets/{bid}/history`` and snapshots (``kinto.plugins.history``)."""

from __future__ import annotations

import pytest
import webtest
from pyramid.exceptions import ConfigurationError

from tests.plugins.conftest import MakeApp, basic_auth, principal_of

ALICE = basic_auth("alice")
BOB = basic_auth("bob")
CAROL = basic_auth("carol")
HISTORY = {"kinto.includes": "kinto.plugins.history"}


@pytest.fixture
def app(make_app: MakeApp) -> webtest.TestApp:
    return make_app(HISTORY)


@pytest.fixture
def alice(app: webtest.TestApp) -> str:
    return principal_of(app, ALICE)


def history(app: webtest.TestApp, bucket: str = "b", query: str = "", **kwargs) -> list[dict]:
    kwargs.setdefault("headers", ALICE)
    return app.get(f"/v1/buckets/{bucket}/history{query}", **kwargs).json["data"]


def test_capability_is_advertised(app: webtest.TestApp) -> None:
    assert app.get("/v1/").json["capabilities"]["history"] == {
        "description": "Track changes on data.",
        "url": "http://kinto.readthedocs.io/en/latest/api/1.x/history.html",
    }


def test_capability_shows_trimming_and_exclusions(make_app: MakeApp) -> None:
    app = make_app(
        {
            **HISTORY,
            "kinto.history.auto_trim_max_count": "10",
            "kinto.history.auto_trim_user_ids": "plugin:x",
            "kinto.history.exclude_resources": "/buckets/a /buckets/b/collections/c",
        }
    )
    capability = app.get("/v1/").json["capabilities"]["history"]
    assert capability["auto_trim_max_count"] == 10
    assert capability["auto_trim_user_ids"] == ["plugin:x"]
    assert capability["excluded_resources"] == [
        {"bucket": "a"},
        {"bucket": "b", "collection": "c"},
    ]


def test_invalid_settings_are_refused(make_app: MakeApp) -> None:
    with pytest.raises(ConfigurationError):
        make_app({**HISTORY, "kinto.history.auto_trim_max_count": "ten"})
    with pytest.raises(ConfigurationError):
        make_app({**HISTORY, "kinto.history.exclude_resources": "/nothing"})


def test_every_change_is_recorded_newest_first(app: webtest.TestApp, alice: str) -> None:
    app.put_json(
        "/v1/buckets/b", {"permissions": {"read": ["system.Authenticated"]}}, headers=ALICE
    )
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    body = {"data": {"x": 1}, "permissions": {"read": ["foo"]}}
    app.put_json("/v1/buckets/b/collections/c/records/r", body, headers=ALICE)
    app.patch_json("/v1/buckets/b/collections/c/records/r", {"data": {"x": 2}}, headers=ALICE)
    app.put_json("/v1/buckets/b/groups/g", {"data": {"members": ["x"]}}, headers=ALICE)
    app.delete("/v1/buckets/b/collections/c/records/r", headers=ALICE)

    entries = history(app)
    assert [(e["action"], e["uri"]) for e in entries] == [
        ("delete", "/buckets/b/collections/c/records/r"),
        ("create", "/buckets/b/groups/g"),
        ("update", "/buckets/b/collections/c/records/r"),
        ("create", "/buckets/b/collections/c/records/r"),
        ("create", "/buckets/b/collections/c"),
        ("create", "/buckets/b"),
    ]
    update = entries[2]
    assert update["user_id"] == alice
    assert update["resource_name"] == "record"
    assert update["collection_id"] == "c"
    assert update["record_id"] == "r"
    assert "bucket_id" not in update  # As Kinto: only bucket entries name their bucket.
    assert update["target"]["data"]["x"] == 2
    assert update["target"]["permissions"] == {"read": ["foo"], "write": [alice]}
    assert update["date"].endswith("+00:00")
    assert isinstance(update["last_modified"], int)
    assert entries[-1]["bucket_id"] == "b"
    assert entries[1]["group_id"] == "g"
    assert entries[0]["target"]["data"]["deleted"] is True
    assert entries[0]["target"]["permissions"] == {}


def test_plural_deletes_record_one_entry_per_object(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    for record in ("r1", "r2"):
        app.put_json(f"/v1/buckets/b/collections/c/records/{record}", {}, headers=ALICE)
    app.delete("/v1/buckets/b/collections/c/records", headers=ALICE)
    deletions = history(app, query="?action=delete")
    assert sorted(e["uri"] for e in deletions) == [
        "/buckets/b/collections/c/records/r1",
        "/buckets/b/collections/c/records/r2",
    ]
    assert {e["record_id"] for e in deletions} == {"r1", "r2"}


def test_batch_creating_buckets_records_each_in_its_own_history(app: webtest.TestApp) -> None:
    requests = [{"method": "PUT", "path": f"/buckets/{b}"} for b in ("b1", "b2")]
    app.post_json("/v1/batch", {"requests": requests}, headers=ALICE)
    assert [e["uri"] for e in history(app, "b1")] == ["/buckets/b1"]
    assert [e["uri"] for e in history(app, "b2")] == ["/buckets/b2"]


def test_default_bucket_creations_are_recorded(make_app: MakeApp) -> None:
    app = make_app({"kinto.includes": "kinto.plugins.default_bucket kinto.plugins.history"})
    bucket = app.get("/v1/", headers=ALICE).json["user"]["bucket"]
    app.put_json("/v1/buckets/default/collections/tasks/records/r", {}, headers=ALICE)
    uris = [e["uri"] for e in history(app, bucket)]
    assert uris == [
        f"/buckets/{bucket}/collections/tasks/records/r",
        f"/buckets/{bucket}/collections/tasks",
        f"/buckets/{bucket}",
    ]


def test_failed_requests_leave_no_entry(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {"data": "nope"}, headers=ALICE, status=400)
    assert [e["uri"] for e in history(app)] == ["/buckets/b"]


def test_list_is_filtered_sorted_and_paginated(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    for record in ("1", "2", "3"):
        app.put_json(f"/v1/buckets/b/collections/c/records/{record}", {}, headers=ALICE)

    records = history(app, query="?resource_name=record&_sort=last_modified")
    assert [e["record_id"] for e in records] == ["1", "2", "3"]
    # Numeric-looking ids are compared as strings.
    assert [e["record_id"] for e in history(app, query="?record_id=2")] == ["2"]
    assert len(history(app, query="?in_record_id=1,3")) == 2
    assert len(history(app, query="?target.data.id=c")) == 1

    response = app.get("/v1/buckets/b/history?_limit=2", headers=ALICE)
    assert len(response.json["data"]) == 2
    assert response.headers["ETag"] == f'"{response.json["data"][0]["last_modified"]}"'
    seen = [e["id"] for e in response.json["data"]]
    while "Next-Page" in response.headers:
        next_page = response.headers["Next-Page"].replace("http://localhost", "")
        response = app.get(next_page, headers=ALICE)
        seen.extend(e["id"] for e in response.json["data"])
    assert len(set(seen)) == len(seen) == 5
    assert app.head("/v1/buckets/b/history", headers=ALICE).headers["Total-Objects"] == "5"


def test_unknown_fields_are_refused(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    response = app.get("/v1/buckets/b/history?foo=1", headers=ALICE, status=400)
    assert response.json["message"] == "Unknown filter field 'foo'"
    response = app.get("/v1/buckets/b/history?_sort=foo", headers=ALICE, status=400)
    assert response.json["message"] == "querystring: Unknown sort field 'foo'"


def test_only_list_endpoints_exist(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    entry_id = history(app)[0]["id"]
    app.get(f"/v1/buckets/b/history/{entry_id}", headers=ALICE, status=404)
    app.post_json("/v1/buckets/b/history", {}, headers=ALICE, status=405)


def test_bucket_readers_read_everything(app: webtest.TestApp) -> None:
    app.put_json(
        "/v1/buckets/b", {"permissions": {"read": ["system.Authenticated"]}}, headers=ALICE
    )
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    assert len(history(app, headers=BOB)) == 2


def test_object_readers_read_the_entries_of_their_objects(app: webtest.TestApp) -> None:
    carol = principal_of(app, CAROL)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    body = {"permissions": {"read": [carol]}}
    app.put_json("/v1/buckets/b/collections/c/records/shared", body, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c/records/private", {}, headers=ALICE)
    assert [e["uri"] for e in history(app, headers=CAROL)] == [
        "/buckets/b/collections/c/records/shared"
    ]
    app.get("/v1/buckets/b/history", headers=BOB, status=403)
    app.get("/v1/buckets/b/history", status=401)


def test_entries_keep_the_readers_they_had(app: webtest.TestApp) -> None:
    carol = principal_of(app, CAROL)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {"permissions": {"read": [carol]}}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c/records/r", {}, headers=ALICE)
    app.patch_json("/v1/buckets/b/collections/c", {"permissions": {"read": []}}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c/records/s", {}, headers=ALICE)
    uris = [e["uri"] for e in history(app, headers=CAROL)]
    assert "/buckets/b/collections/c/records/r" in uris
    assert "/buckets/b/collections/c/records/s" not in uris


def test_without_explicit_permissions_entries_follow_the_bucket(make_app: MakeApp) -> None:
    app = make_app({**HISTORY, "kinto.explicit_permissions": "false"})
    carol = principal_of(app, CAROL)
    app.put_json(
        "/v1/buckets/b", {"permissions": {"write": [principal_of(app, ALICE)]}}, headers=ALICE
    )
    body = {"permissions": {"read": [carol]}}
    app.put_json("/v1/buckets/b/collections/c", body, headers=ALICE)
    app.get("/v1/buckets/b/history", headers=CAROL, status=403)
    assert len(history(app)) == 2


def test_bucket_writers_delete_history(app: webtest.TestApp) -> None:
    app.put_json(
        "/v1/buckets/b", {"permissions": {"read": ["system.Authenticated"]}}, headers=ALICE
    )
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    app.delete("/v1/buckets/b/history", headers=BOB, status=403)
    deleted = app.delete("/v1/buckets/b/history?resource_name=bucket", headers=ALICE).json
    assert len(deleted["data"]) == 1
    assert [e["resource_name"] for e in history(app)] == ["collection"]


def test_deleting_a_bucket_purges_its_history(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    app.delete("/v1/buckets/b", headers=ALICE)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    assert [(e["action"], e["uri"]) for e in history(app)] == [("create", "/buckets/b")]
    registry = app.app.registry
    leftovers = registry.permission.get_accessible_objects([principal_of(app, ALICE)])
    assert len([uri for uri in leftovers if "/history/" in uri]) == 1


def test_batch_writing_then_deleting_a_bucket_leaves_nothing(app: webtest.TestApp) -> None:
    requests = [
        {"method": "PUT", "path": "/buckets/b"},
        {"method": "PUT", "path": "/buckets/b/collections/c"},
        {"method": "DELETE", "path": "/buckets/b"},
    ]
    app.post_json("/v1/batch", {"requests": requests}, headers=ALICE)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    assert [e["uri"] for e in history(app)] == ["/buckets/b"]


def test_invalid_bucket_ids_are_404_for_those_allowed(make_app: MakeApp) -> None:
    app = make_app({**HISTORY, "kinto.history_read_principals": "system.Authenticated"})
    response = app.get("/v1/buckets/a@b/history", headers=ALICE, status=404)
    assert response.json["errno"] == 111


def test_excluded_users(make_app: MakeApp) -> None:
    app = make_app(HISTORY)
    bob = principal_of(app, BOB)
    app = make_app({**HISTORY, "kinto.history.exclude_user_ids": bob})
    app.put_json("/v1/buckets/b", {"permissions": {"write": [bob]}}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=BOB)
    assert [e["uri"] for e in history(app)] == ["/buckets/b"]


def test_excluded_resources(make_app: MakeApp) -> None:
    excluded = "/buckets/quiet /buckets/b/collections/hidden /buckets/b/collections/c/records/r"
    app = make_app({**HISTORY, "kinto.history.exclude_resources": excluded})
    app.put_json("/v1/buckets/quiet", {}, headers=ALICE)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    for collection in ("hidden", "c"):
        app.put_json(f"/v1/buckets/b/collections/{collection}", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/hidden/records/x", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c/records/r", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c/records/s", {}, headers=ALICE)
    assert history(app, "quiet") == []
    assert [e["uri"] for e in history(app)] == [
        "/buckets/b/collections/c/records/s",
        "/buckets/b/collections/c",
        "/buckets/b",
    ]


def test_trimming_keeps_the_newest_entries_per_resource(make_app: MakeApp) -> None:
    app = make_app(
        {
            **HISTORY,
            "kinto.history.auto_trim_max_count": "2",
            "kinto.history.auto_trim_threshold": "1",
        }
    )
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    for index in range(4):
        app.put_json(f"/v1/buckets/b/collections/c/records/r{index}", {}, headers=ALICE)
    records = history(app, query="?resource_name=record")
    # Trimmed down to 2 once there were 4 (> 2 + 1).
    assert [e["record_id"] for e in records] == ["r3", "r2"]
    assert len(history(app, query="?resource_name=bucket")) == 1


def test_trimming_only_for_listed_users(make_app: MakeApp) -> None:
    app = make_app(HISTORY)
    bob = principal_of(app, BOB)
    app = make_app(
        {
            **HISTORY,
            "kinto.history.auto_trim_max_count": "1",
            "kinto.history.auto_trim_threshold": "0",
            "kinto.history.auto_trim_user_ids": bob,
        }
    )
    app.put_json("/v1/buckets/b", {"permissions": {"write": [bob]}}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    for index in range(3):
        app.put_json(f"/v1/buckets/b/collections/c/records/a{index}", {}, headers=ALICE)
        app.put_json(f"/v1/buckets/b/collections/c/records/b{index}", {}, headers=BOB)
    records = history(app, query="?resource_name=record&_sort=record_id")
    assert [e["record_id"] for e in records] == ["a0", "a1", "a2", "b2"]


# --- Snapshots -----------------------------------------------------------------------


@pytest.fixture
def timeline(app: webtest.TestApp) -> dict[str, int]:
    """Records changed over time; the timestamps of each step."""
    steps = {}
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    url = "/v1/buckets/b/collections/c/records"
    app.put_json(f"{url}/kept", {"data": {"v": 1}}, headers=ALICE)
    app.put_json(f"{url}/changed", {"data": {"v": 1}}, headers=ALICE)
    steps["deleted"] = app.put_json(f"{url}/deleted", {"data": {"v": 1}}, headers=ALICE).json[
        "data"
    ]["last_modified"]
    app.put_json(f"{url}/changed", {"data": {"v": 2}}, headers=ALICE)
    app.delete(f"{url}/deleted", headers=ALICE)
    steps["after"] = app.put_json(f"{url}/new", {"data": {"v": 1}}, headers=ALICE).json["data"][
        "last_modified"
    ]
    return steps


def snapshot(app: webtest.TestApp, timestamp: object, **kwargs) -> webtest.TestResponse:
    kwargs.setdefault("headers", ALICE)
    return app.get(f"/v1/buckets/b/snapshot/collections/c@{timestamp}", **kwargs)


def test_snapshot_rebuilds_past_records(app: webtest.TestApp, timeline: dict) -> None:
    records = snapshot(app, timeline["deleted"]).json["data"]
    assert {r["id"]: r["v"] for r in records} == {"kept": 1, "changed": 1, "deleted": 1}
    timestamps = [r["last_modified"] for r in records]
    assert timestamps == sorted(timestamps, reverse=True)


def test_snapshot_of_now_is_the_current_records(app: webtest.TestApp, timeline: dict) -> None:
    records = snapshot(app, timeline["after"]).json["data"]
    assert {r["id"]: r["v"] for r in records} == {"kept": 1, "changed": 2, "new": 1}


def test_snapshot_skips_records_deleted_by_then(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    url = "/v1/buckets/b/collections/c/records/r"
    app.put_json(url, {"data": {"v": 1}}, headers=ALICE)
    deleted_at = app.delete(url, headers=ALICE).json["data"]["last_modified"]
    app.put_json(url, {"data": {"v": 2}}, headers=ALICE)
    assert snapshot(app, deleted_at).json["data"] == []


def test_snapshot_errors(app: webtest.TestApp, timeline: dict) -> None:
    response = snapshot(app, "abc", status=400)
    assert response.json["message"] == "Invalid timestamp 'abc'"
    snapshot(app, "-1", status=400)
    snapshot(app, 1, headers=BOB, status=403)
    snapshot(app, 1, headers={}, status=401)
    response = app.get("/v1/buckets/b/snapshot/collections/c%40d@1", headers=ALICE, status=404)
    assert response.json["errno"] == 111
