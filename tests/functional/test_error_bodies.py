"""Error bodies and CORS headers word for word as Kinto 26.5.0 sends them.

Clients show ``message`` to people and read ``details[].name`` to point at the
field in a form, so both match Kinto's exactly; only the parser's own account
of invalid JSON (after ``Invalid JSON:``) is this server's.  These tests also
run against Kinto itself (see ``FUNCTIONAL_REFERENCE_URL`` in ``conftest.py``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE

BUCKET = "/v1/buckets/b"
RECORDS = f"{BUCKET}/collections/c/records"
RECORD = f"{RECORDS}/r"
JSON_HEADERS = {**ALICE, "Content-Type": "application/json"}
ORIGIN = {"Origin": "http://app.example"}
NOT_A_MAPPING = '"{}" is not a mapping type: Does not implement dict-like functionality.'


def invalid(*details: tuple[str, str], location: str = "body", status: int = 400) -> dict:
    """Kinto's errno 107 body for ``details`` given as ``(name, description)``."""
    name, description = details[0]
    message = description if name in description else f"{name} in {location}: {description}"
    return {
        "code": status,
        "errno": 107,
        "error": "Invalid parameters",
        "message": message,
        "details": [
            {"location": location, "name": name, "description": text} for name, text in details
        ],
    }


def send(app: webtest.TestApp, method: str, url: str, body: Any) -> webtest.TestResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return app.request(url, method=method, body=raw, headers=JSON_HEADERS, expect_errors=True)


@pytest.mark.parametrize("raw", [b"{bad", b'{"data": {}', b"  ", b'{"data": {"x": NaN}}'])
@pytest.mark.parametrize(
    ("method", "url"), [("PUT", RECORD), ("POST", RECORDS), ("PATCH", BUCKET)]
)
def test_invalid_json(
    empty_collection: webtest.TestApp, method: str, url: str, raw: bytes
) -> None:
    response = send(empty_collection, method, url, raw)
    assert response.status_int == 400
    body = response.json
    reason = body["message"]
    assert reason.startswith("Invalid JSON: ")
    assert body == invalid(("", reason), ("", "Required"))


@pytest.mark.parametrize("raw", [b"null", b"5", b"true", b'"x"'])
def test_a_scalar_body(empty_collection: webtest.TestApp, raw: bytes) -> None:
    response = send(empty_collection, "PUT", RECORD, raw)
    expected = invalid(("", "Should be a JSON object or an array"), ("", "Required"))
    assert response.json == expected


@pytest.mark.parametrize(("value", "shown"), [([], "[]"), ([1, 2], "[1, 2]")])
def test_a_list_body(empty_collection: webtest.TestApp, value: list, shown: str) -> None:
    response = send(empty_collection, "PUT", RECORD, value)
    assert response.json == invalid(("", NOT_A_MAPPING.format(shown)))


@pytest.mark.parametrize(
    ("value", "shown"), [([1], "[1]"), ("x", "x"), (None, "None"), (True, "True"), (5, "5")]
)
@pytest.mark.parametrize("member", ["data", "permissions"])
def test_a_member_that_is_not_an_object(
    empty_collection: webtest.TestApp, member: str, value: Any, shown: str
) -> None:
    response = send(empty_collection, "PUT", RECORD, {member: value})
    assert response.json == invalid((member, NOT_A_MAPPING.format(shown)))


@pytest.mark.parametrize(
    ("value", "shown"), [("x", "x"), (5, "5"), ({}, "{}"), ({"a": 1}, "{'a': 1}")]
)
def test_a_permission_that_is_not_a_list(
    empty_collection: webtest.TestApp, value: Any, shown: str
) -> None:
    response = send(empty_collection, "PUT", RECORD, {"permissions": {"read": value}})
    assert response.json == invalid(("permissions.read", f'"{shown}" is not iterable'))


@pytest.mark.parametrize(
    ("principals", "errors"),
    [
        ([1], [("permissions.read.0", "1 is not a string: {'': ''}")]),
        (["a", True], [("permissions.read.1", "True is not a string: {'': ''}")]),
        ([[1]], [("permissions.read.0", "[1] is not a string: {'': ''}")]),
        ([""], [("permissions.read.0", "Required")]),
        ([None], [("permissions.read.0", "Required")]),
        ([{}], [("permissions.read.0", "Required")]),
        (
            ["x", None, 3],
            [
                ("permissions.read.1", "Required"),
                ("permissions.read.2", "3 is not a string: {'': ''}"),
            ],
        ),
    ],
)
def test_a_bad_principal_is_named_by_its_index(
    empty_collection: webtest.TestApp, principals: list, errors: list
) -> None:
    response = send(empty_collection, "PUT", RECORD, {"permissions": {"read": principals}})
    assert response.json == invalid(*errors)


def test_every_problem_is_listed(empty_collection: webtest.TestApp) -> None:
    body = {"data": 5, "permissions": {"read": ["x"], "write": [3]}}
    response = send(empty_collection, "PUT", RECORD, body)
    assert response.json == invalid(
        ("data", NOT_A_MAPPING.format(5)),
        ("permissions.write.0", "3 is not a string: {'': ''}"),
    )


@pytest.mark.parametrize(
    ("url", "choices"),
    [(RECORD, "read, write"), ("/v1/buckets/b2", "read, write, collection:create, group:create")],
)
def test_an_unknown_permission(empty_collection: webtest.TestApp, url: str, choices: str) -> None:
    body = {"data": {"a": 1}, "permissions": {"read": [1], "foo": ["x"]}}
    response = send(empty_collection, "PUT", url, body)
    assert response.json == invalid(("permissions", f'"foo" is not one of {choices}'))


def test_unknown_members_hide_other_problems(empty_collection: webtest.TestApp) -> None:
    body = {"data": 5, "foo": 1, "bar": {"x": [1]}}
    response = send(empty_collection, "PUT", RECORD, body)
    expected = "Unrecognized keys in mapping: \"{'foo': 1, 'bar': {'x': [1]}}\""
    assert response.json == invalid(("", expected))


def test_every_bad_group_member_is_listed(empty_collection: webtest.TestApp) -> None:
    response = send(empty_collection, "PUT", f"{BUCKET}/groups/g", {"data": {"members": ["", 1]}})
    assert response.json == invalid(
        ("data.members.0", "Required"), ("data.members.1", "1 is not a string: {'': ''}")
    )


def test_the_declared_charset_is_used(empty_collection: webtest.TestApp) -> None:
    raw = json.dumps({"data": {"word": "été"}}).encode("utf-16")
    headers = {**ALICE, "Content-Type": "application/json; charset=utf-16"}
    response = empty_collection.put(RECORD, raw, headers=headers, status=201)
    assert response.json["data"]["word"] == "été"


@pytest.mark.clone_only  # Kinto 26.5.0 answers 500.
def test_an_unknown_charset(empty_collection: webtest.TestApp) -> None:
    headers = {**ALICE, "Content-Type": "application/json; charset=klingon"}
    response = empty_collection.put(RECORD, b"{}", headers=headers, status=400)
    reason = "Invalid JSON: unknown encoding: klingon"
    assert response.json == invalid(("", reason), ("", "Required"))


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("header", ["If-Match", "If-None-Match"])
def test_a_malformed_precondition_on_a_missing_object(
    empty_collection: webtest.TestApp, method: str, header: str
) -> None:
    response = empty_collection.request(
        f"{RECORDS}/missing", method=method, headers={**ALICE, header: "abc"}, status=400
    )
    description = "The value should be integer between double quotes."
    assert response.json == invalid((header, description), location="header")


def test_an_empty_body_is_an_empty_object(empty_collection: webtest.TestApp) -> None:
    response = send(empty_collection, "PUT", RECORD, b"")
    assert response.status_int == 201


def test_a_batch_with_unknown_members(app: webtest.TestApp) -> None:
    response = send(app, "POST", "/v1/batch", {"requests": [], "x": [1]})
    assert response.json == invalid(("", "Unrecognized keys in mapping: \"{'x': [1]}\""))


def test_a_batch_whose_defaults_are_not_an_object(app: webtest.TestApp) -> None:
    response = send(app, "POST", "/v1/batch", {"defaults": 5, "requests": []})
    assert response.json == invalid(("defaults", NOT_A_MAPPING.format(5)))


def test_a_bad_principal_in_a_batch(empty_collection: webtest.TestApp) -> None:
    request = {"method": "PUT", "path": "/buckets/b", "body": {"permissions": {"read": [1]}}}
    response = send(empty_collection, "POST", "/v1/batch", {"requests": [request]})
    [answer] = response.json["responses"]
    assert answer["status"] == 400
    assert answer["body"] == invalid(("permissions.read.0", "1 is not a string: {'': ''}"))
    assert answer["headers"]["X-Content-Type-Options"] == "nosniff"
    assert "Retry-After" in answer["headers"]["Access-Control-Expose-Headers"]


# --- Other statuses -----------------------------------------------------------------


def test_a_wrong_content_type(empty_collection: webtest.TestApp) -> None:
    headers = {**ALICE, **ORIGIN, "Content-Type": "text/plain"}
    response = empty_collection.put(RECORD, "{}", headers=headers, status=415)
    description = "Content-Type header should be one of ['application/json']"
    assert response.json == invalid(("Content-Type", description), location="header", status=415)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_an_unacceptable_accept(empty_collection: webtest.TestApp) -> None:
    headers = {**ALICE, **ORIGIN, "Accept": "text/html"}
    response = empty_collection.get(BUCKET, headers=headers, status=406)
    description = "Accept header should be one of ['application/json']"
    assert response.json == invalid(("Accept", description), location="header", status=406)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("PATCH", "/v1/buckets", "DELETE,GET,HEAD,OPTIONS,POST"),
        ("POST", "/v1/", "GET,HEAD,OPTIONS"),
        ("PUT", RECORDS, "DELETE,GET,HEAD,OPTIONS,POST"),
    ],
)
def test_a_method_not_allowed(
    empty_collection: webtest.TestApp, method: str, url: str, allowed: str
) -> None:
    headers = {**JSON_HEADERS, **ORIGIN}
    response = empty_collection.request(
        url, method=method, body=b"{}", headers=headers, status=405
    )
    assert response.json == {
        "code": 405,
        "errno": 115,
        "error": "Method Not Allowed",
        "message": "Method not allowed on this endpoint.",
    }
    assert sorted(response.headers["Allow"].replace(" ", "").split(",")) == allowed.split(",")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("method", "url", "headers", "status"),
    [
        ("PUT", RECORD, {"Content-Type": "application/json"}, 400),
        ("GET", "/v1/buckets/nope", {}, 403),
        ("GET", "/v1/nothere", {}, 404),
    ],
)
def test_errors_carry_cors_headers(
    empty_collection: webtest.TestApp, method: str, url: str, headers: dict, status: int
) -> None:
    response = empty_collection.request(
        url, method=method, body=b"{bad", headers={**ALICE, **ORIGIN, **headers}, status=status
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    exposed = {
        name.strip() for name in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {"Alert", "Backoff", "Content-Length", "Content-Type", "Retry-After"} <= exposed


def test_an_anonymous_error_carries_cors_headers(empty_collection: webtest.TestApp) -> None:
    response = empty_collection.get(BUCKET, headers=ORIGIN, status=401)
    assert response.json["errno"] == 104
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# --- CORS preflight ------------------------------------------------------------------


def preflight(app: webtest.TestApp, url: str, **headers: str) -> webtest.TestResponse:
    return app.options(url, headers=headers, expect_errors=True)


@pytest.mark.parametrize("url", [BUCKET, RECORDS, "/v1/"])
def test_a_preflight(empty_collection: webtest.TestApp, url: str) -> None:
    response = preflight(
        empty_collection,
        url,
        Origin="http://app.example",
        **{
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization, Content-Type, X-Custom",
        },
    )
    assert response.status_int == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Max-Age"] == "3600"
    assert "GET" in response.headers["Access-Control-Allow-Methods"].split(",")
    allowed = {
        name.strip() for name in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"Authorization", "Content-Type", "X-Custom"} <= allowed


@pytest.mark.parametrize(
    ("headers", "errors"),
    [
        (
            {"Access-Control-Request-Method": "PUT"},
            [("Origin", "this header is mandatory")],
        ),
        (
            {"Origin": "http://app.example"},
            [("Access-Control-Request-Method", "this header is mandatory")],
        ),
        (
            {},
            [
                ("Access-Control-Request-Method", "this header is mandatory"),
                ("Origin", "this header is mandatory"),
            ],
        ),
        (
            {"Origin": "http://app.example", "Access-Control-Request-Method": "FOO"},
            [("Access-Control-Request-Method", "Method not allowed")],
        ),
    ],
)
def test_an_incomplete_preflight(
    empty_collection: webtest.TestApp, headers: dict, errors: list
) -> None:
    response = preflight(empty_collection, BUCKET, **headers)
    assert response.json == invalid(*errors, location="header")
    assert "Access-Control-Max-Age" not in response.headers


def test_a_preflight_to_an_unknown_url(empty_collection: webtest.TestApp) -> None:
    response = preflight(
        empty_collection,
        "/v1/nothere",
        Origin="http://app.example",
        **{"Access-Control-Request-Method": "GET"},
    )
    assert response.status_int == 404
    assert response.json["errno"] == 111
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_the_preflight_max_age_follows_the_setting(make_app: MakeApp) -> None:
    headers = {"Origin": "http://a.example", "Access-Control-Request-Method": "GET"}
    app = make_app(**{"kinto.cors_max_age_seconds": "60"})
    assert preflight(app, "/v1/", **headers).headers["Access-Control-Max-Age"] == "60"
    app = make_app(**{"kinto.cors_max_age_seconds": ""})
    assert "Access-Control-Max-Age" not in preflight(app, "/v1/", **headers).headers


def test_listed_origins_are_echoed_and_may_be_patterns(make_app: MakeApp) -> None:
    app = make_app(**{"kinto.cors_origins": "https://app.example *.trusted.example"})
    for origin in ("https://app.example", "https://ui.trusted.example"):
        response = app.get("/v1/", headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize(
    ("method", "url", "headers"),
    [
        ("GET", "/v1/", {}),
        ("GET", BUCKET, ALICE),
        ("OPTIONS", BUCKET, {"Access-Control-Request-Method": "GET"}),
    ],
)
def test_an_origin_that_is_not_listed_is_refused(
    make_app: MakeApp, method: str, url: str, headers: dict
) -> None:
    app = make_app(**{"kinto.cors_origins": "https://app.example"})
    app.put_json(BUCKET, {}, headers=ALICE)
    origin = {"Origin": "https://evil.example"}
    response = app.request(url, method=method, headers={**headers, **origin}, status=400)
    description = "https://evil.example not allowed"
    assert response.json == invalid(("Origin", description), location="header")
    assert "Access-Control-Allow-Origin" not in response.headers
