"""Malformed requests get a clear 4xx JSON error, never a 500.

Every error has Kinto's body ``{code, errno, error, message, details?}``, with
errno 107 (invalid parameters) for anything the client sent wrong, including
the 415 of a wrong ``Content-Type`` and the 406 of an unacceptable ``Accept``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import webtest

from tests.backends import AppBackend
from tests.functional.helpers import ALICE
from tests.server import StartServer

RECORDS = "/v1/buckets/b/collections/c/records"
RECORD = f"{RECORDS}/r"
JSON_HEADERS = {**ALICE, "Content-Type": "application/json"}


def assert_invalid(response: webtest.TestResponse, status: int = 400) -> dict[str, Any]:
    """Check the error contract; return the first detail."""
    assert response.status_int == status
    body = response.json
    assert body["code"] == status
    assert body["errno"] == 107
    assert body["error"] == "Invalid parameters"
    assert body["message"]
    return body["details"][0]


def send(
    app: webtest.TestApp, method: str, url: str, raw: bytes, headers: dict[str, str] = JSON_HEADERS
) -> webtest.TestResponse:
    return app.request(url, method=method, body=raw, headers=headers, expect_errors=True)


@pytest.fixture
def record(empty_collection: webtest.TestApp) -> webtest.TestApp:
    empty_collection.put_json(RECORD, {"data": {"a": 1}}, headers=ALICE)
    return empty_collection


# --- Bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"{bad json",
        b'{"data": {"a": 1}',
        b'{"data": {"a": "\xff"}}',
        b"\xef\xbb\xbf{}",
        b'{"data": {"n": NaN}}',
        b'{"data": {"n": -Infinity}}',
        b'{"data": {"n": 1e999}}',
        b'{"data": {"s": "\\ud800"}}',
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_invalid_json_is_a_400(record: webtest.TestApp, method: str, raw: bytes) -> None:
    url = RECORDS if method == "POST" else RECORD
    detail = assert_invalid(send(record, method, url, raw))
    assert detail["location"] == "body"
    assert record.get(RECORD, headers=ALICE).json["data"]["a"] == 1


@pytest.mark.parametrize("raw", [b"null", b"[]", b'"x"', b"1", b"true"])
def test_a_body_that_is_not_an_object_is_a_400(record: webtest.TestApp, raw: bytes) -> None:
    for method, url in (("POST", RECORDS), ("PUT", RECORD), ("PATCH", RECORD)):
        assert assert_invalid(send(record, method, url, raw))["location"] == "body"


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"data": [1]}, "data"),
        ({"data": "x"}, "data"),
        ({"data": 1}, "data"),
        ({"data": None}, "data"),
        ({"permissions": "x"}, "permissions"),
        ({"permissions": ["read"]}, "permissions"),
        ({"permissions": {"read": "x"}}, "permissions.read"),
        ({"permissions": {"read": [1]}}, "permissions.read"),
        ({"permissions": {"read": [""]}}, "permissions.read"),
    ],
)
def test_wrong_types_are_a_400(record: webtest.TestApp, body: dict, name: str) -> None:
    raw = json.dumps(body).encode()
    for method, url in (("POST", RECORDS), ("PUT", RECORD), ("PATCH", RECORD)):
        detail = assert_invalid(send(record, method, url, raw))
        assert detail["location"] == "body"
        assert detail["name"].startswith(name)


def test_unknown_permissions_are_a_400(record: webtest.TestApp) -> None:
    raw = json.dumps({"permissions": {"record:create": ["x"]}}).encode()
    for method, url in (("POST", RECORDS), ("PUT", RECORD), ("PATCH", RECORD)):
        assert assert_invalid(send(record, method, url, raw))["location"] == "body"


def test_a_null_permission_is_ignored(record: webtest.TestApp) -> None:
    response = record.put_json(
        RECORD, {"data": {}, "permissions": {"read": None}}, headers=ALICE, status=200
    )
    assert "read" not in response.json["permissions"]


def test_unknown_top_level_members_are_a_400(record: webtest.TestApp) -> None:
    raw = json.dumps({"data": {}, "extra": 1}).encode()
    for method, url in (("POST", RECORDS), ("PUT", RECORD)):
        assert assert_invalid(send(record, method, url, raw))["location"] == "body"


def test_a_moderately_nested_body_is_accepted(record: webtest.TestApp) -> None:
    value: Any = 1
    for _ in range(70):
        value = {"k": value}
    response = record.put_json(RECORD, {"data": {"deep": value}}, headers=ALICE)
    assert response.json["data"]["deep"] == value


@pytest.mark.clone_only  # Kinto 26.5.0 answers 500 (RecursionError).
# Beyond the parser's recursion limit, yet under WebOb's 10 KB in-memory body limit.
@pytest.mark.parametrize("depth", [200, 3000])
def test_a_deeply_nested_body_is_a_400(record: webtest.TestApp, depth: int) -> None:
    raw = b'{"data": {"a": ' + b"[" * depth + b"]" * depth + b"}}"
    for method, url in (("POST", RECORDS), ("PUT", RECORD), ("PATCH", RECORD)):
        detail = assert_invalid(send(record, method, url, raw))
        assert "nested" in detail["description"]


@pytest.mark.clone_only  # Kinto 26.5.0 accepts any depth its parser reaches.
@pytest.mark.parametrize(("lists", "status"), [(125, 200), (126, 400)])
def test_the_depth_limit_counts_every_level(
    record: webtest.TestApp, lists: int, status: int
) -> None:
    # The body, ``data``, the lists and the number: 128 levels are the most
    # allowed, though the text opens only 127 or 128 brackets.
    raw = b'{"data": {"a": ' + b"[" * lists + b"1" + b"]" * lists + b"}}"
    response = send(record, "PUT", RECORD, raw)
    if status == 400:
        assert "nested" in assert_invalid(response)["description"]
    else:
        assert response.status_int == status


@pytest.mark.clone_only  # Kinto's memory backend stores it; PostgreSQL cannot.
def test_a_lone_surrogate_decoded_by_the_charset_is_a_400(record: webtest.TestApp) -> None:
    # No ``\u`` escape is left in the text for the JSON decoder: the charset made it.
    headers = {"Content-Type": "application/json; charset=unicode_escape", **ALICE}
    detail = assert_invalid(send(record, "PUT", RECORD, b'{"data": {"a": "\\ud800"}}', headers))
    assert detail["description"] == "Invalid JSON: unpaired surrogate in string"


def test_a_large_body_is_accepted(app_backend: AppBackend, start_server: StartServer) -> None:
    # Over HTTP: in-process, WebOb spools big bodies to temporary files that
    # WebTest never closes (ResourceWarning).
    live_server = start_server(app_backend.settings)
    url = f"{live_server.url}/v1/buckets/large/collections/c"
    text = "x" * (4 * 1024 * 1024)
    with requests.Session() as session:
        session.auth = ("alice", "secret")
        session.put(f"{live_server.url}/v1/buckets/large", timeout=10).raise_for_status()
        session.put(url, timeout=10).raise_for_status()
        response = session.put(f"{url}/records/r", json={"data": {"text": text}}, timeout=30)
    assert response.status_code == 201
    assert len(response.json()["data"]["text"]) == len(text)


@pytest.mark.clone_only  # Kinto's memory backend stores them; PostgreSQL cannot.
@pytest.mark.parametrize(
    "raw",
    [b'{"data": {"a": "\\u0000"}}', b'{"data": {"a\\u0000": 1}}', b'{"data": {"a": ["\\u0000"]}}'],
)
def test_nul_characters_in_bodies_are_a_400(record: webtest.TestApp, raw: bytes) -> None:
    detail = assert_invalid(send(record, "PUT", RECORD, raw))
    assert detail["description"] == "Invalid character 0x00"


# --- Content negotiation ----------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_wrong_content_type_is_a_415(record: webtest.TestApp, content_type: str) -> None:
    headers = {**ALICE, "Content-Type": content_type}
    for method, url in (("POST", RECORDS), ("PUT", RECORD)):
        detail = assert_invalid(send(record, method, url, b'{"data": {}}', headers), 415)
        assert detail == {
            "location": "header",
            "name": "Content-Type",
            "description": "Content-Type header should be one of ['application/json']",
        }
    # Even without a body.
    assert_invalid(send(record, "PUT", RECORD, b"", headers), 415)


def test_json_content_type_parameters_are_accepted(record: webtest.TestApp) -> None:
    headers = {**ALICE, "Content-Type": "application/json; charset=utf-8"}
    response = send(record, "PUT", RECORD, b'{"data": {"b": 2}}', headers)
    assert response.status_int == 200


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json;q=0"])
def test_an_unacceptable_accept_is_a_406(record: webtest.TestApp, accept: str) -> None:
    headers = {**ALICE, "Accept": accept}
    for response in (
        record.get(RECORDS, headers=headers, expect_errors=True),
        record.get(RECORD, headers=headers, expect_errors=True),
        record.put_json(RECORD, {"data": {}}, headers=headers, expect_errors=True),
    ):
        detail = assert_invalid(response, 406)
        assert detail == {
            "location": "header",
            "name": "Accept",
            "description": "Accept header should be one of ['application/json']",
        }


@pytest.mark.parametrize("accept", ["*/*", "application/*", "text/html, */*;q=0.1", "garbage"])
def test_acceptable_accepts(record: webtest.TestApp, accept: str) -> None:
    record.get(RECORDS, headers={**ALICE, "Accept": accept}, status=200)


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "application/*", "text/html, */*;q=0.1", "garbage"]
)
def test_every_acceptable_accept_gets_the_same_json(record: webtest.TestApp, accept: str) -> None:
    """Plain JSON accepts skip content negotiation; the others go through it:
    both must answer alike."""
    headers = ALICE if accept is None else {**ALICE, "Accept": accept}
    for path in (RECORDS, RECORD):
        response = record.get(path, headers=headers, status=200)
        assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
        assert "data" in json.loads(response.body)


# --- Querystrings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("a=%00", "a"),
        ("a%00=1", "a\x00"),
        ("in_a=x,%00", "in_a"),
        ("_limit=abc", "_limit"),
        ("_limit=-5", "_limit"),
        ("_limit=%00", "_limit"),
        ("_since=abc", "_since"),
        ("_since=-1", "_since"),
        ("_since=%00", "_since"),
        ("_before=x", "_before"),
        ("_to=x", "_to"),
        ("_token=abc", None),
    ],
)
def test_invalid_querystrings_are_a_400(record: webtest.TestApp, query: str, name: str) -> None:
    response = record.get(f"{RECORDS}?{query}", headers=ALICE, expect_errors=True)
    detail = assert_invalid(response)
    assert detail["location"] == "querystring"
    assert detail["name"] == name


@pytest.mark.parametrize("query", ["a=%ff", "%ff=1", "_sort=%ff"])
def test_a_querystring_that_is_not_utf8_is_a_400(record: webtest.TestApp, query: str) -> None:
    response = record.get(f"{RECORDS}?{query}", headers=ALICE, expect_errors=True)
    assert response.status_int == 400
    assert response.json["errno"] == 107


@pytest.mark.parametrize("query", ["_sort=a-b,--c", "_fields=a-b", "_sort=", "_fields="])
def test_odd_but_valid_querystrings(record: webtest.TestApp, query: str) -> None:
    assert record.get(f"{RECORDS}?{query}", headers=ALICE).json["data"][0]["id"] == "r"


@pytest.mark.parametrize("query", ["last_modified=abc", "_limit=abc", "_since=%00"])
def test_invalid_querystrings_on_plural_deletes_are_a_400(
    record: webtest.TestApp, query: str
) -> None:
    assert_invalid(record.delete(f"{RECORDS}?{query}", headers=ALICE, expect_errors=True))
    assert len(record.get(RECORDS, headers=ALICE).json["data"]) == 1
