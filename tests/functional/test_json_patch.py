"""JSON Patch (RFC 6902) answers as Kinto 26.5.0 gives them, and its costs bounded.

The expected errors were read from a running Kinto 26.5.0; run this module with
``FUNCTIONAL_REFERENCE_URL`` to check them against it again (see conftest).
Operations are first checked for shape, like Kinto's request schema does (errors
naming ``<index>.<member>``), then applied by the ``jsonpatch`` library (errors
named ``None``, worded by the library).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import webtest

from kinto_clone.core.resource.patch import apply_json_patch_to_object
from tests.functional.helpers import ALICE

RECORD = "/v1/buckets/b/collections/c/records/r"
JSON_PATCH = {**ALICE, "Content-Type": "application/json-patch+json"}
START = {"a": 1, "arr": [1, 2], "n": {"x": True}}
FAILED = "JSON Patch operation failed: "
NOT_A_MAPPING = "Does not implement dict-like functionality."


@pytest.fixture
def record(empty_collection: webtest.TestApp) -> webtest.TestApp:
    empty_collection.put_json(RECORD, {"data": START}, headers=ALICE)
    return empty_collection


def send(app: webtest.TestApp, body: Any, status: int) -> webtest.TestResponse:
    return app.patch_json(RECORD, body, headers=JSON_PATCH, status=status)


def details(response: webtest.TestResponse) -> list[tuple[Any, str]]:
    assert response.json["errno"] == 107
    assert {detail["location"] for detail in response.json["details"]} == {"body"}
    return [(detail["name"], detail["description"]) for detail in response.json["details"]]


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        # Invalid RFC 6901 escape.
        ([{"op": "add", "path": "/data/a~2b", "value": 1}], "Found invalid escape ~2"),
        # ``test`` compares JSON values: true is not 1.
        (
            [{"op": "test", "path": "/data/a", "value": True}],
            "1 (<class 'int'>) is not equal to tested value True (<class 'bool'>)",
        ),
        (
            [{"op": "test", "path": "/data/n/x", "value": 1}],
            "True (<class 'bool'>) is not equal to tested value 1 (<class 'int'>)",
        ),
        (
            [{"op": "remove", "path": "/data/missing"}],
            "can't remove a non-existent object 'missing'",
        ),
        ([{"op": "add", "path": "/data/arr/9", "value": 3}], "can't insert outside of list"),
        (
            [{"op": "add", "path": "/data/arr/01", "value": 3}],
            "'01' is not a valid sequence index",
        ),
        (
            [{"op": "move", "from": "/data/arr", "path": "/data/arr/0"}],
            "Cannot move values into their own children",
        ),
        ([{"op": "copy", "from": "/data/nope", "path": "/data/m"}], "'nope'"),
        ([{"op": "add", "path": "/data/x"}], "The operation does not contain a 'value' member"),
        (
            [{"op": "move", "path": "/data/b", "from": ""}],
            "The operation does not contain a 'from' member",
        ),
        (
            [{"op": "remove", "path": "/permissions/read/nobody"}],
            "can't remove a non-existent object 'nobody'",
        ),
    ],
)
def test_failed_operations_are_worded_by_jsonpatch(
    record: webtest.TestApp, operations: list, expected: str
) -> None:
    before = record.get(RECORD, headers=ALICE).json
    assert details(send(record, operations, 400)) == [(None, FAILED + expected)]
    assert record.get(RECORD, headers=ALICE).json == before


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([{"op": "add", "path": "", "value": 1}], [("0.path", "Required")]),
        ([{"op": "replace", "path": "", "value": {"data": {}}}], [("0.path", "Required")]),
        (
            [{"op": "add", "path": "data/x", "value": 1}],
            [("0.path", "String does not match expected pattern")],
        ),
        (
            [{"op": "move", "path": "/data/b", "from": "x"}],
            [("0.from", "String does not match expected pattern")],
        ),
        (
            [{"op": "bogus", "path": "/data/a"}],
            [("0.op", '"bogus" is not one of test, add, remove, replace, move, copy')],
        ),
        ([{"path": "/data/x", "value": 1}], [("0.op", "Required")]),
        ([{"op": 5, "path": "/data/a"}], [("0.op", "5 is not a string: {'op': ''}")]),
        ([{"op": "add", "path": ["/a"]}], [("0.path", "['/a'] is not a string: {'path': ''}")]),
        ([{"op": None, "path": None}], [("0.op", "Required"), ("0.path", "Required")]),
        (
            [{"op": "add", "path": "/data/x", "value": 1, "extra": 2}],
            [("0", "Unrecognized keys in mapping: \"{'extra': 2}\"")],
        ),
        (
            [{"op": "add", "path": "/data/b", "value": 1}, ["y"]],
            [("1", "\"['y']\" is not a mapping type: " + NOT_A_MAPPING)],
        ),
        ({"op": "add"}, [("", "\"{'op': 'add'}\" is not iterable")]),
        ("abc", [("", "Should be a JSON object or an array"), ("", "Required")]),
        (None, [("", "Should be a JSON object or an array"), ("", "Required")]),
    ],
)
def test_malformed_operations_are_named_like_kinto(
    record: webtest.TestApp, body: Any, expected: list
) -> None:
    assert details(send(record, body, 400)) == expected


def test_an_empty_body_is_not_a_list_of_operations(record: webtest.TestApp) -> None:
    response = record.patch(RECORD, b"", headers=JSON_PATCH, status=400)
    assert details(response) == [("", '"{}" is not iterable')]


@pytest.mark.parametrize(
    ("operations", "data"),
    [
        ([{"op": "test", "path": "/data/a", "value": 1.0}], START),
        ([{"op": "test", "path": "/data/arr", "value": [1, 2.0]}], START),
        ([{"op": "add", "path": "/data/a~1b", "value": 1}], {**START, "a/b": 1}),
        ([{"op": "add", "path": "/data/a~0b", "value": 1}], {**START, "a~b": 1}),
        ([{"op": "add", "path": "/data/", "value": 1}], {**START, "": 1}),
        ([{"op": "add", "path": "/data/a", "value": None}], {**START, "a": None}),
        ([{"op": "replace", "path": "/data", "value": {"z": 1}}], {"z": 1}),
        ([{"op": "copy", "from": "/data/n", "path": "/data/m"}], {**START, "m": {"x": True}}),
    ],
)
def test_applied_operations(record: webtest.TestApp, operations: list, data: dict) -> None:
    response = send(record, operations, 200)
    stored = response.json["data"]
    assert {k: v for k, v in stored.items() if k not in ("id", "last_modified")} == data


@pytest.mark.clone_only  # Kinto 26.5.0 answers 500: its data would no longer be an object.
@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "replace", "path": "/data", "value": 5}],
        [{"op": "replace", "path": "/data", "value": []}],
        [{"op": "remove", "path": "/data"}],
        [{"op": "replace", "path": "/permissions/read", "value": 5}],
    ],
)
def test_data_and_permissions_keep_their_shape(record: webtest.TestApp, operations: list) -> None:
    send(record, operations, 400)


@pytest.mark.clone_only  # Kinto would take a billion-value document's worth of time and memory.
def test_copies_cannot_grow_a_document_exponentially(record: webtest.TestApp) -> None:
    """Each copy doubles ``/data/t``: refused once copies outgrow the budget, quickly."""
    operations = [{"op": "add", "path": "/data/t", "value": [0]}]
    operations += [{"op": "copy", "from": "/data/t", "path": "/data/t/0"}] * 40
    started = time.perf_counter()
    response = send(record, operations, 400)
    assert time.perf_counter() - started < 2
    assert details(response) == [(None, FAILED + "copies would make the object too large")]


@pytest.mark.clone_only  # The copy budget is this server's.
def test_a_large_document_may_copy_a_large_part_of_itself(record: webtest.TestApp) -> None:
    """The budget grows with the document: 15,000 values copied once fit."""
    record.patch_json(RECORD, {"data": {"big": list(range(15_000))}}, headers=ALICE)
    operations = [{"op": "copy", "from": "/data/big", "path": "/data/copy"}]
    patched = send(record, operations, 200).json["data"]
    assert patched["copy"] == patched["big"]


@pytest.mark.clone_only  # Kinto stores the result, however deep.
def test_moves_cannot_nest_deeper_than_a_body_may(record: webtest.TestApp) -> None:
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    operations = [
        {"op": "add", "path": "/data/one", "value": deep},
        {"op": "copy", "from": "/data/one", "path": "/data/two"},
        {"op": "move", "from": "/data/two", "path": "/data/one" + "/0" * 100},
    ]
    assert details(send(record, operations, 400)) == [(None, "JSON nested deeper than 128 levels")]


def test_a_long_patch_costs_linear_time() -> None:
    """20,000 operations, each of constant cost, apply in well under two seconds.

    Called directly: in-process, WebOb spools such a body to a temporary file that
    WebTest never closes.
    """
    operations = [{"op": "add", "path": f"/data/k{i}", "value": i} for i in range(10_000)]
    operations += [{"op": "test", "path": f"/data/k{i}", "value": i} for i in range(10_000)]
    started = time.perf_counter()
    data, _ = apply_json_patch_to_object({}, {}, operations)
    assert time.perf_counter() - started < 2
    assert data["k9999"] == 9999
