"""Record validation stays cheap and local whatever schema and record a client sends.

The schema and the records both come from clients: what validating them may cost
(time, recursion, network) is bounded by :mod:`kinto_clone.core.json_schema`.
These run on an in-process memory app (validation does not depend on the backend),
except the 50,000-item record, sent to a real server process (WebTest leaves large
bodies' temporary files open).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests
import webtest

from kinto_clone.core import json_schema
from tests.conftest import StartServer
from tests.plugins.conftest import basic_auth, schema_validation_app

ALICE = basic_auth("alice")
ENABLED = {"kinto.experimental_collection_schema_validation": "true"}
COLLECTION = "/v1/buckets/b/collections/c"
RECORDS = f"{COLLECTION}/records"
D7 = "http://json-schema.org/draft-07/schema#"


@pytest.fixture(scope="module")
def app() -> webtest.TestApp:
    return schema_validation_app("b")


def post(app: webtest.TestApp, schema: dict, data: Any, status: int) -> webtest.TestResponse:
    """Set ``schema`` on the collection, then post ``data`` as a record."""
    app.put_json(COLLECTION, {"data": {"schema": schema}}, headers=ALICE)
    return app.post_json(RECORDS, {"data": data}, headers=ALICE, status=status)


def detail(response: webtest.TestResponse) -> tuple[Any, str]:
    assert response.json["errno"] == 107
    first = response.json["details"][0]
    return first["name"], first["description"]


# --- uniqueItems and enum: JSON equality through hashing, in linear time -----------

UNIQUE_TAGS = {"properties": {"tags": {"type": "array", "uniqueItems": True}}}


@pytest.mark.parametrize(
    ("tags", "unique"),
    [
        ([1, 1.0], False),
        ([1, True], True),
        ([0, False], True),
        ([{"a": 1, "b": 2}, {"b": 2, "a": 1}], False),
        ([{"a": [1.0]}, {"a": [1]}], False),
        ([[1], [True]], True),
        (["1", 1], True),
        ([None, None], False),
        ([{"a": None}, {}], True),
    ],
)
def test_unique_items_follow_json_equality(app: webtest.TestApp, tags: list, unique: bool) -> None:
    response = post(app, UNIQUE_TAGS, {"tags": tags}, 201 if unique else 400)
    if not unique:
        assert detail(response) == ("tags", f"{tags!r} has non-unique elements")


def test_enum_follows_json_equality(app: webtest.TestApp) -> None:
    schema = {"properties": {"v": {"enum": [{"a": 1, "b": [2]}, 3]}}}
    post(app, schema, {"v": {"b": [2.0], "a": 1}}, 201)
    post(app, schema, {"v": 3.0}, 201)
    response = post(app, schema, {"v": {"a": True, "b": [2]}}, 400)
    assert detail(response) == ("v", "{'a': True, 'b': [2]} is not one of [{'a': 1, 'b': [2]}, 3]")


@pytest.mark.parametrize(
    "items",
    [
        [f"tag-{i}" for i in range(50_000)],
        [{"n": i, "name": f"item {i}"} for i in range(50_000)],
        [[i, str(i)] for i in range(50_000)],
        [i if i % 2 else str(i) for i in range(50_000)],  # not sortable: jsonschema compares pairs
    ],
    ids=["strings", "objects", "arrays", "mixed"],
)
def test_unique_items_cost_linear_time(items: list) -> None:
    """Through the function the record view calls: 50,000 items in well under 2 s."""
    started = time.perf_counter()
    json_schema.validate({"tags": items}, UNIQUE_TAGS)
    assert time.perf_counter() - started < 2


def test_subschemas_naming_a_draft_keep_the_linear_keywords() -> None:
    """A ``$schema`` inside a schema switches draft, not back to jsonschema's own
    ``uniqueItems`` (3,000 objects: about 30 s there)."""
    draft = "https://json-schema.org/draft/2020-12/schema"
    schema = {"properties": {"l": {"$schema": draft, "uniqueItems": True}}}
    started = time.perf_counter()
    json_schema.validate({"l": [{"n": i} for i in range(3_000)]}, schema)
    assert time.perf_counter() - started < 2


def test_a_record_of_50000_unique_strings_is_validated_quickly(
    start_server: StartServer,
) -> None:
    server = start_server(ENABLED)
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
        },
    }
    tags = [f"tag-{i:05d}" for i in range(50_000)]
    with requests.Session() as session:
        session.auth = ("alice", "secret")
        base = f"{server.url}/v1/buckets/b"
        session.put(base, timeout=10).raise_for_status()
        collection = {"data": {"schema": schema}}
        session.put(f"{base}/collections/c", json=collection, timeout=10).raise_for_status()
        started = time.perf_counter()
        response = session.post(
            f"{base}/collections/c/records", json={"data": {"tags": tags}}, timeout=30
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 201, response.text
        duplicated = session.post(
            f"{base}/collections/c/records", json={"data": {"tags": [*tags, "tag-00000"]}}
        )
    print(f"50,000 unique strings: POST answered in {elapsed:.3f} s")
    assert elapsed < 2
    assert duplicated.status_code == 400
    assert duplicated.json()["details"][0]["name"] == "tags"


# --- Drafts: chosen by $schema, 2020-12 when absent -----------------------------------


@pytest.mark.parametrize(
    ("schema", "data", "valid"),
    [
        ({"properties": {"l": {"prefixItems": [{"type": "string"}]}}}, {"l": [1]}, False),
        (
            {"$schema": D7, "properties": {"l": {"prefixItems": [{"type": "string"}]}}},
            {"l": [1]},
            True,
        ),
        ({"$schema": D7, "properties": {"l": {"items": [{"type": "string"}]}}}, {"l": [1]}, False),
        ({"dependentRequired": {"a": ["b"]}}, {"a": 1}, False),
        ({"$schema": D7, "dependentRequired": {"a": ["b"]}}, {"a": 1}, True),
        ({"unevaluatedProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}, False),
        (
            {"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}},
            {"a": 1},
            False,
        ),
        (
            {"$schema": "http://example.com/unknown", "dependentRequired": {"a": ["b"]}},
            {"a": 1},
            False,
        ),
    ],
)
def test_the_draft_is_the_one_schema_names(
    app: webtest.TestApp, schema: dict, data: dict, valid: bool
) -> None:
    post(app, schema, data, 201 if valid else 400)


def test_the_first_error_follows_the_schema_order(app: webtest.TestApp) -> None:
    """As in Kinto, on a backend keeping the schema's key order (PostgreSQL's jsonb
    sorts keys, for Kinto as here)."""
    required_first = {"required": ["a"], "properties": {"b": {"type": "string"}}}
    assert detail(post(app, required_first, {"b": 1}, 400)) == ("a", "'a' is a required property")
    properties_first = {"properties": {"b": {"type": "string"}}, "required": ["a"]}
    assert detail(post(app, properties_first, {"b": 1}, 400)) == ("b", "1 is not of type 'string'")


def test_the_draft_7_meta_schema_is_known_without_network(app: webtest.TestApp) -> None:
    schema = {"properties": {"s": {"$ref": D7}}}
    post(app, schema, {"s": {"type": "string"}}, 201)
    post(app, schema, {"s": {"type": 5}}, 400)


# --- No network ---------------------------------------------------------------------


@pytest.fixture
def schema_host() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server serving a schema on any path; the paths it was asked for."""
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requested
    server.shutdown()
    server.server_close()


def test_remote_references_are_never_fetched(
    app: webtest.TestApp, schema_host: tuple[str, list[str]]
) -> None:
    """Kinto fetches them (with a deprecation warning); here they do not resolve."""
    url, requested = schema_host
    schema = {"properties": {"a": {"$ref": f"{url}/string.json"}}}
    response = post(app, schema, {"a": 1}, 400)
    assert detail(response) == ("schema", f"Unresolvable: {url}/string.json")
    assert requested == []


def test_a_missing_local_reference_is_named_like_kinto(app: webtest.TestApp) -> None:
    response = post(app, {"$ref": "#/definitions/missing"}, {"a": 1}, 400)
    assert detail(response) == (
        "schema",
        "PointerToNowhere: '/definitions/missing' does not exist within "
        "{'$ref': '#/definitions/missing'}",
    )


# --- Costly schemas are refused, quickly -----------------------------------------------


def exponential_schema(levels: int) -> dict:
    """Each level refers twice to the next: 2**levels evaluations for a non-string."""
    defs: dict[str, Any] = {
        f"l{i}": {"anyOf": [{"$ref": f"#/$defs/l{i + 1}"}, {"$ref": f"#/$defs/l{i + 1}"}]}
        for i in range(levels)
    }
    defs[f"l{levels}"] = {"type": "string"}
    return {"$defs": defs, "properties": {"v": {"$ref": "#/$defs/l0"}}}


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        ({"$ref": "#"}, {}),
        (
            {
                "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                "$ref": "#/$defs/a",
            },
            {},
        ),
        (exponential_schema(40), {"v": 1}),
        ({"properties": {"a": {"pattern": "(a|aa)+$"}}}, {"a": "a" * 40 + "b"}),
        ({"patternProperties": {"(a|aa)+$": {}}}, {"a" * 40 + "b": 1}),
        (
            {"patternProperties": {"(a|aa)+$": {}}, "additionalProperties": False},
            {"a" * 40 + "b": 1},
        ),
        # jsonschema would match the names with ``re`` before ``patternProperties`` runs.
        (
            {"unevaluatedProperties": False, "patternProperties": {"(a|aa)+$": {}}},
            {"a" * 40 + "b": 1},
        ),
    ],
    ids=[
        "self-ref",
        "ref-cycle",
        "exponential",
        "pattern",
        "patternProperties",
        "additional",
        "unevaluated",
    ],
)
def test_costly_validations_are_refused_quickly(
    app: webtest.TestApp, schema: dict, data: dict
) -> None:
    started = time.perf_counter()
    response = post(app, schema, data, 400)
    assert time.perf_counter() - started < 8  # VALIDATION_SECONDS, with a loaded machine's slack
    name, description = detail(response)
    assert name == "schema"
    assert "too" in description


def test_deeply_nested_schemas_and_records_are_validated(app: webtest.TestApp) -> None:
    """As deep as a request body may be (128 levels), without exhausting the stack."""
    schema: dict[str, Any] = {"type": "integer"}
    record: Any = 1
    for _ in range(60):
        schema = {"type": "object", "properties": {"a": schema}, "required": ["a"]}
        record = {"a": record}
    post(app, schema, record, 201)
    post(app, schema, {"a": {}}, 400)


def test_a_large_schema_is_accepted() -> None:
    """1,000 properties: within the budget, which grows with the schema's size.

    Called directly: in-process, WebOb spools such a body to a temporary file that
    WebTest never closes.
    """
    properties = {f"field{i}": {"type": "string", "maxLength": 10} for i in range(1_000)}
    schema = {"type": "object", "properties": properties}
    json_schema.check_schema_draft7(schema)
    json_schema.check_schema(schema)
    json_schema.validate({f"field{i}": "x" for i in range(1_000)}, schema)


# --- Where Kinto answers 500 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "data", "name", "description"),
    [
        (
            {"minProperties": 3},
            {"a": 1},
            "minProperties",
            "{'a': 1} does not have enough properties",
        ),
        (
            {"not": {"required": ["a"]}},
            {"a": 1},
            "not",
            "{'a': 1} should not be valid under {'required': ['a']}",
        ),
        (
            {"dependentRequired": {"a": ["b"]}},
            {"a": 1},
            "dependentRequired",
            "'b' is a dependency of 'a'",
        ),
        ({"const": {"a": 1}}, {"a": 2}, "const", "{'a': 1} was expected"),
        ({"enum": [{"a": 1}]}, {"a": 2}, "enum", "{'a': 2} is not one of [{'a': 1}]"),
    ],
)
def test_top_level_errors_name_the_keyword(
    app: webtest.TestApp, schema: dict, data: dict, name: str, description: str
) -> None:
    """Kinto names the keyword value's last item, and fails (500) when it has none."""
    assert detail(post(app, schema, data, 400)) == (name, description)
