"""Property-based tests of ids, filters, ``_sort``/``_token`` and JSON bodies.

Hypothesis generates the inputs; each test runs in-process on every backend.
Whatever is sent, the answer is never a 5xx; what the server accepts comes back
unchanged (ids, record bodies), filters find what they should, and following
``Next-Page`` links lists every record exactly once, in the order of the
unpaginated list.  How many examples are tried is set by :mod:`tests.fuzz.knobs`.
"""

from __future__ import annotations

import base64
import json
import string
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import hypothesis
import pytest
import webtest
from hypothesis import strategies as st

from tests.functional.helpers import ALICE
from tests.fuzz.knobs import search

COLLECTION = "/v1/buckets/b/collections/c"
RECORDS = f"{COLLECTION}/records"
RESERVED = {"id", "last_modified"}

MAX_INTEGER = 10**30
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_INTEGER, MAX_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
record_data = st.dictionaries(
    st.text(max_size=8).filter(lambda key: key not in RESERVED), json_values, max_size=5
)
# Text for the query string: what a URL can carry once percent-encoded.
query_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
numbers_as_text = (
    st.integers(-(10**25), 10**25).map(str)
    | st.floats(allow_nan=False).map(repr)
    | st.sampled_from(["1e999", "-1e999", "1e-999", "0x10", "1_000", "Infinity", "NaN"])
)
FILTER_PREFIXES = [
    "",
    "min_",
    "max_",
    "lt_",
    "gt_",
    "not_",
    "eq_",
    "in_",
    "exclude_",
    "like_",
    "has_",
    "contains_",
    "contains_any_",
]


@pytest.fixture
def collection(app: webtest.TestApp) -> webtest.TestApp:
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json(COLLECTION, {}, headers=ALICE)
    return app


def send(app: webtest.TestApp, method: str, path: str, body: Any = None) -> Any:
    """The answer to a request as Alice; a 5xx, or an exception escaping the
    app (a server process would answer 500), fails the test."""
    raw = b"" if body is None else json.dumps(body).encode()
    try:
        response = app.request(
            path,
            method=method,
            body=raw,
            headers={**ALICE, "Content-Type": "application/json"},
            expect_errors=True,
        )
    except Exception as error:
        error.add_note(f"{method} {path} {raw[:200]!r}")
        raise
    if response.status_int >= 500:
        pytest.fail(f"{method} {path} {raw[:200]!r}: {response.status}\n{response.text[:2000]}")
    if not 300 <= response.status_int < 400:  # redirects (trailing slash) are plain text
        assert response.content_type == "application/json", (path, response.status)
    return response


def record_path(record_id: str) -> str:
    return f"{RECORDS}/{quote(record_id, safe='')}"


def test_any_record_id(collection: webtest.TestApp) -> None:
    """An id is refused with a 4xx, or kept as given."""

    @search(25)
    @hypothesis.given(st.text(max_size=40))
    def check(record_id: str) -> None:
        response = send(collection, "PUT", record_path(record_id), {"data": {}})
        if not 200 <= response.status_int < 300:
            return
        assert response.json["data"]["id"] == record_id
        found = send(collection, "GET", record_path(record_id))
        assert found.json["data"]["id"] == record_id

    check()


@pytest.mark.parametrize("plural", ["buckets", "buckets/b/groups", "buckets/b/collections"])
def test_any_parent_or_group_id(collection: webtest.TestApp, plural: str) -> None:
    @search(15)
    @hypothesis.given(st.text(max_size=40))
    def check(object_id: str) -> None:
        path = f"/v1/{plural}/{quote(object_id, safe='')}"
        body = {"data": {"members": []}} if plural.endswith("groups") else {}
        response = send(collection, "PUT", path, body)
        if not 200 <= response.status_int < 300:
            return
        assert response.json["data"]["id"] == object_id

    check()


def test_any_record_body_round_trips(collection: webtest.TestApp) -> None:
    """Unicode, huge and tiny numbers, nesting, empty keys: what is stored is
    what is read back."""

    @search(40)
    @hypothesis.given(record_data)
    def check(data: dict[str, Any]) -> None:
        response = send(collection, "PUT", record_path("r"), {"data": data})
        if not 200 <= response.status_int < 300:
            return
        expected = {**data, "id": "r"}
        stored = response.json["data"]
        assert as_numbers({k: v for k, v in stored.items() if k != "last_modified"}) == (
            as_numbers(expected)
        )
        read = send(collection, "GET", record_path("r")).json["data"]
        assert as_numbers(read) == as_numbers(stored)

    check()


def as_numbers(value: Any) -> Any:
    """``value`` with its numbers as the decimals their JSON text denotes.

    PostgreSQL's jsonb keeps a number, not its spelling: ``5.6e+16`` comes back
    as ``56000000000000000``, the same JSON number (and the same double for a
    JavaScript client), though Python reads an ``int`` instead of a ``float``.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [as_numbers(item) for item in value]
    return {key: as_numbers(item) for key, item in value.items()}


def test_any_filter_is_answered(collection: webtest.TestApp) -> None:
    """Filters of every operator on any field with any value: never a 5xx."""
    send(collection, "PUT", record_path("r"), {"data": {"a": {"b": [1, "x"]}}})
    fields = st.sampled_from(["a", "a.b", "id", "last_modified", "x.y.z"]) | query_text
    filters = st.lists(
        st.tuples(st.sampled_from(FILTER_PREFIXES), fields, numbers_as_text | query_text),
        min_size=1,
        max_size=4,
    )

    @search(40)
    @hypothesis.given(filters)
    @hypothesis.example([("", "a" + ".a" * 200, "1")])
    @hypothesis.example([("", f"f{number}", "1") for number in range(3000)])
    @hypothesis.example([("in_", "a", ",".join(["1"] * 5000))])
    @hypothesis.example([("", "a", "1e999")])
    @hypothesis.example([("", "a", "9223372036854775808")])
    def check(chosen: list[tuple[str, str, str]]) -> None:
        query = urlencode([(prefix + field, value) for prefix, field, value in chosen])
        send(collection, "GET", f"{RECORDS}?{query}")

    check()


# Filter values are read as JSON where they parse (as Kinto does, ``NaN`` and
# ``Infinity`` included): such words are not strings there.
JSON_WORDS = ("true", "false", "null", "NaN", "Infinity")
WORDS = st.text(string.ascii_letters + "éßЖ漢", min_size=1, max_size=10).filter(
    lambda word: word not in JSON_WORDS
)


def test_equality_filter_finds_what_was_stored(collection: webtest.TestApp) -> None:
    @search(20)
    @hypothesis.given(WORDS, st.integers(-(2**53), 2**53))
    def check(word: str, number: int) -> None:
        data = {"word": word, "number": number}
        send(collection, "PUT", record_path("r"), {"data": data})
        for name, value in data.items():
            query = urlencode({name: value, "id": "r"})
            found = send(collection, "GET", f"{RECORDS}?{query}")
            assert [record["id"] for record in found.json["data"]] == ["r"], query

    check()


def forged_token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_any_token_is_answered(collection: webtest.TestApp) -> None:
    """A ``_token`` is opaque to clients but can be forged: never a 5xx."""
    forged = json_values.map(lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()))

    @search(30)
    @hypothesis.given(query_text | forged.map(bytes.decode))
    @hypothesis.example(forged_token("[" * 100_000 + "]" * 100_000))
    @hypothesis.example(forged_token('{"last_object": ' * 5_000 + "1" + "}" * 5_000))
    @hypothesis.example(forged_token('{"last_object": {"last_modified": 1e999}, "offset": 1}'))
    @hypothesis.example(forged_token('{"last_object": {"id": "r"}, "offset": 1' + "0" * 30 + "}"))
    def check(token: str) -> None:
        query = urlencode({"_token": token, "_limit": 1})
        send(collection, "GET", f"{RECORDS}?{query}")

    check()


SORT_FIELDS = ["n", "s", "id", "last_modified", "missing"]
sorts = st.lists(
    st.tuples(st.sampled_from(SORT_FIELDS), st.booleans()),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
).map(lambda chosen: ",".join(("-" if desc else "") + field for field, desc in chosen))
sort_values = (
    scalars
    | st.lists(scalars, max_size=2)
    | st.dictionaries(st.text(max_size=2), scalars, max_size=2)
)


def test_pages_list_every_record_once_in_order(collection: webtest.TestApp) -> None:
    """Following ``Next-Page`` gives the unpaginated list, whatever the sort."""

    @search(25)
    @hypothesis.given(
        st.lists(st.fixed_dictionaries({"n": sort_values, "s": sort_values}), max_size=8),
        sorts,
        st.integers(1, 4),
    )
    @hypothesis.example([{"n": 1, "s": []}, {"n": 2, "s": [1]}, {"n": 3, "s": "x"}], "-s", 1)
    def check(records: list[dict[str, Any]], sort: str, limit: int) -> None:
        send(collection, "DELETE", RECORDS)
        for number, data in enumerate(records):
            send(collection, "PUT", record_path(f"r{number}"), {"data": data})
        whole = send(collection, "GET", f"{RECORDS}?_sort={sort}")
        assert whole.status_int == 200, whole.text
        expected = [record["id"] for record in whole.json["data"]]
        paged: list[str] = []
        path: str | None = f"{RECORDS}?{urlencode({'_sort': sort, '_limit': limit})}"
        while path is not None and len(paged) <= len(records):
            page = send(collection, "GET", path)
            assert page.status_int == 200, (path, page.text)
            paged += [record["id"] for record in page.json["data"]]
            next_page = page.headers.get("Next-Page")
            path = None if next_page is None else _path_of(next_page)
        assert paged == expected, (sort, limit)

    check()


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


BODY_TARGETS = [
    ("PUT", "/v1/buckets/b"),
    ("PATCH", COLLECTION),
    ("PUT", "/v1/buckets/b/groups/g"),
    ("POST", RECORDS),
    ("PUT", record_path("r")),
    ("PATCH", record_path("r")),
    ("POST", "/v1/batch"),
]
CONTENT_TYPES = [
    "application/json",
    "application/merge-patch+json",
    "application/json-patch+json",
    "text/plain",
]
json_patches = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"]),
            "path": st.sampled_from(["/data/a", "/data/a/0", "/data/a/-", "/data/a/³", "/x", ""])
            | query_text,
        },
        optional={"value": json_values, "from": st.sampled_from(["/data/a", "/data/b/1"])},
    ),
    max_size=4,
)
envelopes = (
    json_values
    | json_patches
    | st.fixed_dictionaries(
        {},
        optional={
            "data": json_values,
            "permissions": json_values
            | st.dictionaries(st.sampled_from(["read", "write", "x"]), json_values),
            "requests": st.lists(
                st.fixed_dictionaries(
                    {"path": st.sampled_from([RECORDS, "/buckets/b", "", "x"]) | query_text},
                    optional={"method": st.sampled_from(["GET", "PUT", "x"]), "body": json_values},
                ),
                max_size=3,
            ),
            "defaults": json_values,
        },
    )
)


def test_any_body_is_answered(collection: webtest.TestApp) -> None:
    """Any JSON document, in any envelope, to any writing endpoint: a 2xx or a
    4xx, never a 5xx."""
    send(collection, "PUT", record_path("r"), {"data": {}})
    send(collection, "PUT", "/v1/buckets/b/groups/g", {"data": {"members": []}})

    @search(40)
    @hypothesis.given(st.sampled_from(BODY_TARGETS), st.sampled_from(CONTENT_TYPES), envelopes)
    @hypothesis.example(
        ("PATCH", record_path("r")),
        "application/json-patch+json",
        [
            {"op": "add", "path": "/data/a", "value": [1]},
            {"op": "add", "path": "/data/a/³", "value": 1},
        ],
    )
    def check(target: tuple[str, str], content_type: str, body: Any) -> None:
        method, path = target
        raw = json.dumps(body).encode()
        response = collection.request(
            path,
            method=method,
            body=raw,
            headers={**ALICE, "Content-Type": content_type},
            expect_errors=True,
        )
        assert response.status_int < 500, (
            f"{method} {path} {content_type} {raw[:300]!r}: {response.status}\n"
            f"{response.text[:2000]}"
        )

    check()


def test_any_credentials_are_answered(collection: webtest.TestApp) -> None:
    """Any Basic Auth user name and password (they become principals stored in
    ACEs when the user creates something): never a 5xx."""

    @search(30)
    @hypothesis.given(st.text(max_size=20), st.text(max_size=20), st.integers(0, 10**6))
    def check(user: str, password: str, number: int) -> None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
        for method, path in [("GET", "/v1/"), ("PUT", f"/v1/buckets/made-{number}")]:
            response = collection.request(
                path, method=method, headers=headers, body=b"{}", expect_errors=True
            )
            assert response.status_int < 500, (
                f"{method} {path} as {user!r}:{password!r}: {response.status}\n"
                f"{response.text[:2000]}"
            )

    check()


def test_any_bytes_in_paths_are_answered(collection: webtest.TestApp) -> None:
    """Any bytes, percent-encoded, as an id (valid UTF-8 or not): never a 5xx."""
    send(collection, "PUT", record_path("r"), {"data": {}})
    targets = st.sampled_from(
        ["/v1/buckets/{}", "/v1/buckets/b/collections/{}/records", f"{RECORDS}/{{}}"]
    )

    @search(30)
    @hypothesis.given(targets, st.binary(min_size=1, max_size=12), st.sampled_from(["GET", "PUT"]))
    def check(target: str, segment: bytes, method: str) -> None:
        path = target.format(quote(segment, safe=""))
        body = {"data": {}} if method == "PUT" else None
        send(collection, method, path, body)

    check()


def test_any_id_in_a_posted_body(collection: webtest.TestApp) -> None:
    """``POST`` with ``data.id`` of any JSON value: a record under that id (a
    string), or a 400; never a 409 or a record whose id is not a string."""

    @search(30)
    @hypothesis.given(json_values | st.text(string.ascii_letters, min_size=1, max_size=8))
    def check(record_id: Any) -> None:
        response = send(collection, "POST", RECORDS, {"data": {"id": record_id}})
        assert response.status_int in (200, 201, 400), response.text
        if response.status_int != 400:
            assert response.json["data"]["id"] == record_id
            assert isinstance(record_id, str)

    check()
