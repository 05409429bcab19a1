"""PATCH in its three formats, and the ``Response-Behavior`` header.

* ``application/json``: the given ``data`` fields replace the stored ones;
  each listed permission is replaced, the others kept.
* ``application/merge-patch+json`` (RFC 7396): recursive merge, ``null`` deletes.
* ``application/json-patch+json`` (RFC 6902): operations on ``/data/...`` and on
  ``/permissions/<perm>/<principal>``.
"""

from __future__ import annotations

from typing import Any

import pytest
import webtest

from tests.functional.helpers import ALICE, principal

RECORD = "/v1/buckets/b/collections/c/records/r"
MERGE = {**ALICE, "Content-Type": "application/merge-patch+json"}
JSON_PATCH = {**ALICE, "Content-Type": "application/json-patch+json"}
START = {"a": 1, "b": {"x": 1, "y": 2}, "l": [1, 2], "s": "text"}


@pytest.fixture
def record(empty_collection: webtest.TestApp) -> webtest.TestApp:
    """Record ``r`` with :data:`START` data, readable by everyone."""
    empty_collection.put_json(
        RECORD, {"data": START, "permissions": {"read": ["system.Everyone"]}}, headers=ALICE
    )
    return empty_collection


def patch(
    app: webtest.TestApp, body: Any, headers: dict[str, str] = ALICE, status: int = 200
) -> webtest.TestResponse:
    return app.patch_json(RECORD, body, headers=headers, status=status)


def data_of(response: webtest.TestResponse) -> dict[str, Any]:
    return {k: v for k, v in response.json["data"].items() if k not in ("id", "last_modified")}


# --- application/json ---------------------------------------------------------------


def test_json_merges_top_level_fields(record: webtest.TestApp) -> None:
    response = patch(record, {"data": {"a": 2, "b": {"z": 3}, "new": None}})
    assert data_of(response) == {"a": 2, "b": {"z": 3}, "l": [1, 2], "s": "text", "new": None}
    assert response.json["data"] == record.get(RECORD, headers=ALICE).json["data"]


def test_json_replaces_only_the_listed_permissions(record: webtest.TestApp) -> None:
    response = patch(record, {"permissions": {"write": ["account:bob"]}})
    assert response.json["permissions"] == {
        "read": ["system.Everyone"],
        "write": sorted(["account:bob", principal("alice")]),
    }
    assert data_of(response) == START


def test_json_with_empty_data_only_bumps_the_timestamp(record: webtest.TestApp) -> None:
    before = record.get(RECORD, headers=ALICE).json["data"]
    after = patch(record, {"data": {}}).json["data"]
    assert after["last_modified"] > before["last_modified"]
    assert {**after, "last_modified": 0} == {**before, "last_modified": 0}


@pytest.mark.parametrize("body", [{}, b""])
def test_an_empty_patch_is_a_400(record: webtest.TestApp, body: Any) -> None:
    if isinstance(body, bytes):
        response = record.patch(
            RECORD, body, headers={**ALICE, "Content-Type": "application/json"}, status=400
        )
    else:
        response = patch(record, body, status=400)
    assert response.json["details"] == [
        {
            "location": "body",
            "name": "data",
            "description": "Provide at least one of data or permissions",
        }
    ]


def test_patch_cannot_change_the_id(record: webtest.TestApp) -> None:
    response = patch(record, {"data": {"id": "other"}}, status=400)
    assert response.json["details"] == [
        {
            "location": "body",
            "name": "id",
            "description": "Object id does not match existing object",
        }
    ]


# --- application/merge-patch+json -------------------------------------------------


def test_merge_patch_merges_recursively_and_null_deletes(record: webtest.TestApp) -> None:
    response = patch(record, {"data": {"a": None, "b": {"x": None, "z": {"deep": 1}}}}, MERGE)
    assert data_of(response) == {"b": {"y": 2, "z": {"deep": 1}}, "l": [1, 2], "s": "text"}


def test_merge_patch_replaces_arrays(record: webtest.TestApp) -> None:
    assert data_of(patch(record, {"data": {"l": [3]}}, MERGE))["l"] == [3]


def test_merge_patch_on_permissions(record: webtest.TestApp) -> None:
    response = patch(record, {"permissions": {"read": None, "write": ["account:bob"]}}, MERGE)
    assert response.json["permissions"] == {"write": sorted(["account:bob", principal("alice")])}


@pytest.mark.parametrize("body", [{"data": None}, {"data": [1]}, {"data": "x"}])
def test_merge_patch_data_must_be_an_object(record: webtest.TestApp, body: Any) -> None:
    response = patch(record, body, MERGE, status=400)
    assert response.json["details"][0]["name"] == "data"


# --- application/json-patch+json ----------------------------------------------------


def test_json_patch_operations_on_data(record: webtest.TestApp) -> None:
    operations = [
        {"op": "test", "path": "/data/a", "value": 1},
        {"op": "replace", "path": "/data/a", "value": 10},
        {"op": "add", "path": "/data/l/-", "value": 3},
        {"op": "add", "path": "/data/l/0", "value": 0},
        {"op": "remove", "path": "/data/b/x"},
        {"op": "move", "from": "/data/s", "path": "/data/moved"},
        {"op": "copy", "from": "/data/b", "path": "/data/copied"},
    ]
    response = patch(record, operations, JSON_PATCH)
    assert data_of(response) == {
        "a": 10,
        "b": {"y": 2},
        "l": [0, 1, 2, 3],
        "moved": "text",
        "copied": {"y": 2},
    }


def test_json_patch_on_permissions(record: webtest.TestApp) -> None:
    operations = [
        {"op": "add", "path": "/permissions/write/account:bob"},
        {"op": "remove", "path": "/permissions/read/system.Everyone"},
        {"op": "add", "path": "/permissions/read/account:mary"},
    ]
    response = patch(record, operations, JSON_PATCH)
    assert response.json["permissions"] == {
        "read": ["account:mary"],
        "write": sorted(["account:bob", principal("alice")]),
    }


def test_json_patch_replaces_a_whole_permission(record: webtest.TestApp) -> None:
    operations = [{"op": "replace", "path": "/permissions/read", "value": ["account:bob"]}]
    response = patch(record, operations, JSON_PATCH)
    assert response.json["permissions"]["read"] == ["account:bob"]


def test_an_empty_json_patch_only_bumps_the_timestamp(record: webtest.TestApp) -> None:
    before = record.get(RECORD, headers=ALICE).json["data"]
    after = patch(record, [], JSON_PATCH).json["data"]
    assert after["last_modified"] > before["last_modified"]


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "test", "path": "/data/a", "value": 99}],
        [{"op": "remove", "path": "/data/nope"}],
        [{"op": "replace", "path": "/data/nope", "value": 1}],
        [{"op": "add", "path": "/data/l/9", "value": 1}],
        [{"op": "add", "path": "/data/a/b", "value": 1}],
        [{"op": "move", "from": "/data/nope", "path": "/data/x"}],
        [{"op": "add", "path": "/permissions/bogus/account:bob"}],
        [{"op": "add", "path": "/data/x", "value": 1}, {"op": "remove", "path": "/data/y"}],
    ],
)
def test_a_failing_json_patch_is_a_400_and_changes_nothing(
    record: webtest.TestApp, operations: list
) -> None:
    before = record.get(RECORD, headers=ALICE).json
    response = patch(record, operations, JSON_PATCH, status=400)
    assert response.json["errno"] == 107
    assert response.json["details"][0]["location"] == "body"
    assert "JSON Patch operation failed" in response.json["message"]
    assert record.get(RECORD, headers=ALICE).json == before


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "bogus", "path": "/data/a"}],
        [1],
        {"data": {"a": 1}},
        [{"op": "add", "path": "/data/id", "value": "other"}],
    ],
)
def test_malformed_json_patches_are_400(record: webtest.TestApp, operations: Any) -> None:
    assert patch(record, operations, JSON_PATCH, status=400).json["errno"] == 107


@pytest.mark.clone_only  # Kinto 26.5.0 answers 500.
def test_json_patch_cannot_replace_data_by_a_scalar(record: webtest.TestApp) -> None:
    patch(record, [{"op": "add", "path": "/data", "value": 1}], JSON_PATCH, status=400)


def test_json_patch_ignores_other_top_level_members(record: webtest.TestApp) -> None:
    response = patch(record, [{"op": "add", "path": "/other", "value": 1}], JSON_PATCH)
    assert data_of(response) == START


def test_unknown_patch_content_type_is_a_415(record: webtest.TestApp) -> None:
    response = record.patch(
        RECORD, b'{"data": {}}', headers={**ALICE, "Content-Type": "text/plain"}, status=415
    )
    description = (
        "Content-Type header should be one of "
        "['application/json-patch+json', 'application/json', 'application/merge-patch+json']"
    )
    assert response.json == {
        "code": 415,
        "errno": 107,
        "error": "Invalid parameters",
        "message": description,
        "details": [{"location": "header", "name": "Content-Type", "description": description}],
    }


# --- Response-Behavior --------------------------------------------------------------


def test_response_behavior_full_is_the_default(record: webtest.TestApp) -> None:
    full = patch(record, {"data": {"a": 2}}, {**ALICE, "Response-Behavior": "full"})
    assert data_of(full) == {**START, "a": 2}


@pytest.mark.clone_only  # Kinto 26.5.0 answers 500 to light and diff.
@pytest.mark.parametrize(
    ("headers", "body", "light", "diff"),
    [
        (ALICE, {"data": {"a": 2, "s": "text", "c": 3}}, {"a": 2, "c": 3}, {}),
        (MERGE, {"data": {"b": {"x": None}, "a": None}}, {"b": {"y": 2}}, {"b": {"y": 2}}),
        (JSON_PATCH, [{"op": "replace", "path": "/data/a", "value": 5}], {"a": 5}, {}),
        (JSON_PATCH, [{"op": "add", "path": "/permissions/read/account:bob"}], {}, {}),
    ],
)
def test_response_behavior_light_and_diff(
    record: webtest.TestApp,
    headers: dict[str, str],
    body: Any,
    light: dict[str, Any],
    diff: dict[str, Any],
) -> None:
    response = patch(record, body, {**headers, "Response-Behavior": "light"})
    assert response.json["data"] == light
    assert "permissions" in response.json
    record.put_json(RECORD, {"data": START}, headers=ALICE)
    response = patch(record, body, {**headers, "Response-Behavior": "diff"})
    assert response.json["data"] == diff
    stored = record.get(RECORD, headers=ALICE).json["data"]
    assert response.headers["ETag"] == f'"{stored["last_modified"]}"'


def test_an_unknown_response_behavior_is_a_400(record: webtest.TestApp) -> None:
    response = patch(record, {"data": {"a": 2}}, {**ALICE, "Response-Behavior": "bogus"}, 400)
    assert response.json["details"] == [
        {
            "location": "header",
            "name": "Response-Behavior",
            "description": '"bogus" is not one of full, light, diff',
        }
    ]
    assert data_of(record.get(RECORD, headers=ALICE)) == START
