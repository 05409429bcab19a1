"""Every page is reachable, whatever ``_sort`` orders by, and ``_token`` is bounded.

Pages are walked through ``Next-Page`` with small limits over records whose
fields mix every JSON type (and lack some fields): the pages, put end to end,
must be exactly the unpaginated list, on every backend, in the same order on
every backend (:func:`~kinto_clone.core.storage.filtering.sort_objects`, the
``jsonb`` order).  Tampered tokens are a 400, never a 500.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import webob
import webtest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyramid.encode import urlencode

from kinto_clone.core.resource.querystring import parse_sorting
from kinto_clone.core.storage.filtering import sort_objects
from tests.functional.helpers import ALICE

RECORDS = "/v1/buckets/b/collections/c/records"
INVALID = {"location": "querystring", "name": None, "description": "_token has invalid content"}

# Every JSON type in ``v``, ``tags`` and ``meta``, ties, absent fields, nested
# and dotted keys (``sub.n`` finds ``{"sub.n": 7}`` as well as ``{"sub": {"n": 2}}``).
MIXED: list[dict[str, Any]] = [
    {"id": "r01", "v": "b", "tags": ["x", "y"], "meta": {"k": 1}, "sub": {"n": 2}},
    {"id": "r02", "v": 3, "tags": [], "meta": {}, "sub": {"n": "a"}},
    {"id": "r03", "v": None, "tags": ["x"], "meta": {"k": 1, "j": [1]}, "sub": {}},
    {"id": "r04", "v": True, "tags": [1, "x"], "meta": {"aa": 1}, "sub": {"n": None}},
    {"id": "r05", "v": [1, 2], "tags": [[1], {"a": 1}], "meta": {"b": 1}, "sub": 5},
    {"id": "r06", "v": {"a": 1}, "tags": "x", "meta": [], "sub": {"n": [1]}},
    {"id": "r07", "v": 3, "tags": ["x", "y"], "meta": {"k": 1}},
    {"id": "r08", "tags": None, "meta": {"k": 2}, "sub": {"n": 2}},
    {"id": "r09", "v": "a", "meta": {"k": 1}, "sub": {"n": {"x": 1}}},
    {"id": "r10", "v": False, "tags": [True], "meta": 0, "sub.n": 7},
    {"id": "r11", "v": -1.5, "tags": [None], "meta": "m"},
    {"id": "r12", "v": 2**70, "tags": [[]], "meta": {"k": [2]}},
    {"id": "r13", "v": [], "tags": [{}], "meta": {"k": {"a": None}}},
    {"id": "r14", "v": {}, "tags": ["x", "y", "z"], "meta": {"a": 1, "bb": 2}},
    {"id": "r15", "v": [[]], "tags": [], "meta": {"k": 1}},
]

SORTS = [
    "v",
    "-v",
    "tags",
    "-tags",
    "meta",
    "-meta",
    "sub.n",
    "-sub.n",
    "tags,v",
    "-meta,tags",
    "v,-id",
    "meta,-tags,v",
    "missing",
    "-missing",
    "id",
    "-id",
    "last_modified",
    "sub.n,-v",
]


@pytest.fixture
def mixed(empty_collection: webtest.TestApp) -> webtest.TestApp:
    for record in MIXED:
        empty_collection.put_json(f"{RECORDS}/{record['id']}", {"data": record}, headers=ALICE)
    return empty_collection


def follow(app: webtest.TestApp, url: str) -> list[dict[str, Any]]:
    """Every object of every page from ``url``."""
    objects: list[dict[str, Any]] = []
    while url:
        response = app.get(url, headers=ALICE)
        objects += response.json["data"]
        url = response.headers.get("Next-Page", "")
        assert len(objects) <= 100, "pages never end"
    return objects


def expected_order(objects: list[dict[str, Any]], sort: str) -> list[str]:
    """The ids in the order the memory backend's ``jsonb`` rules give."""
    sorting = parse_sorting(None, {"_sort": sort}, "last_modified")  # type: ignore[arg-type]
    return [obj["id"] for obj in sort_objects(objects, sorting, lambda obj: obj)]


def make_token(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


# --- Every page, any sort ------------------------------------------------------------


@pytest.mark.clone_only  # Kinto 26.5.0 refuses its own tokens holding arrays or objects.
@pytest.mark.parametrize("sort", SORTS)
def test_pages_put_end_to_end_are_the_whole_list(mixed: webtest.TestApp, sort: str) -> None:
    whole = mixed.get(f"{RECORDS}?_sort={sort}", headers=ALICE).json["data"]
    assert [obj["id"] for obj in whole] == expected_order(whole, sort)
    for limit in (1, 2, 3):
        paged = follow(mixed, f"{RECORDS}?_sort={sort}&_limit={limit}")
        assert [obj["id"] for obj in paged] == [obj["id"] for obj in whole], limit


@pytest.mark.clone_only
def test_pages_of_a_filtered_list_sorted_on_arrays(mixed: webtest.TestApp) -> None:
    query = "has_tags=true&_sort=-tags,meta"
    whole = [obj["id"] for obj in mixed.get(f"{RECORDS}?{query}", headers=ALICE).json["data"]]
    assert [obj["id"] for obj in follow(mixed, f"{RECORDS}?{query}&_limit=2")] == whole
    assert len(whole) == 14


@pytest.mark.clone_only
def test_plural_delete_pages_sorted_on_objects(mixed: webtest.TestApp) -> None:
    deleted = []
    url = f"{RECORDS}?_sort=meta&_limit=4"
    while url:
        response = mixed.delete(url, headers=ALICE)
        deleted += [obj["id"] for obj in response.json["data"]]
        url = response.headers.get("Next-Page", "")
    assert sorted(deleted) == sorted(record["id"] for record in MIXED)


# A small world of values, so that ties (and equal prefixes) are frequent.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([0.5, -1.25]),
    st.sampled_from(["", "a", "b", "ab"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=2),
        st.dictionaries(st.sampled_from("ab"), children, max_size=2),
    ),
    max_leaves=4,
)
RECORD = st.dictionaries(st.sampled_from(["a", "b", "c"]), VALUES, max_size=3)
SORT = st.lists(
    st.tuples(st.sampled_from(["", "-"]), st.sampled_from(["a", "b", "c", "a.a", "id"])),
    min_size=1,
    max_size=3,
    unique_by=lambda item: item[1],
)


@pytest.mark.clone_only
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=st.lists(RECORD, min_size=1, max_size=7), sort=SORT, limit=st.integers(1, 3))
def test_any_sort_round_trips_through_its_tokens(
    empty_collection: webtest.TestApp,
    records: list[dict[str, Any]],
    sort: list[tuple[str, str]],
    limit: int,
) -> None:
    app = empty_collection
    app.delete(RECORDS, headers=ALICE)
    for record in records:
        app.post_json(RECORDS, {"data": record}, headers=ALICE)
    query = "_sort=" + ",".join(sign + field for sign, field in sort)
    whole = app.get(f"{RECORDS}?{query}", headers=ALICE).json["data"]
    assert [obj["id"] for obj in whole] == expected_order(whole, query[len("_sort=") :])
    paged = follow(app, f"{RECORDS}?{query}&_limit={limit}")
    assert [obj["id"] for obj in paged] == [obj["id"] for obj in whole]


# --- Bounded tokens -------------------------------------------------------------------

NONCE = "pagination-token-0b0e8a2c-4a4e-4b8e-9d1c-5f3f2a7c9e11"


def token_of(last_object: dict[str, Any], **overrides: Any) -> str:
    """A token valid but for ``overrides``."""
    return make_token({"last_object": last_object, "offset": 0, "nonce": NONCE, **overrides})


def raw_token(value: bytes) -> str:
    """A token whose ``v`` is the JSON text ``value`` (not always valid JSON)."""
    text = b'{"last_object":{"last_modified":1,"v":' + value + b'},"offset":0,"nonce":"'
    return base64.urlsafe_b64encode(text + NONCE.encode() + b'"}').decode()


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.clone_only  # Kinto 26.5.0 answers 500 to deep nesting, huge or odd numbers.
@pytest.mark.parametrize(
    "token",
    [
        pytest.param("A" * (256 * 1024 + 4), id="too-long"),
        pytest.param(token_of({"last_modified": 1, "v": nested(300)}), id="nested-too-deeply"),
        pytest.param(raw_token(b"[" * 100_000 + b"]" * 100_000), id="nested-beyond-the-parser"),
        pytest.param(raw_token(b"NaN"), id="nan"),
        pytest.param(raw_token(b"-Infinity"), id="infinity"),
        pytest.param(raw_token(b"1e999"), id="infinite-float"),
        pytest.param(raw_token(b"9" * 5000), id="integer-of-5000-digits"),
        pytest.param(token_of({"last_modified": 1, "v": "\x00"}), id="nul-character"),
        pytest.param(token_of({"last_modified": 1, "v": {"\x00": 1}}), id="nul-in-a-key"),
        pytest.param(token_of({"last_modified": 1, "v": ["\ud800"]}), id="unpaired-surrogate"),
        pytest.param(token_of({"last_modified": 2**64}), id="huge-timestamp"),
        pytest.param(token_of({"last_modified": True}), id="bool-timestamp"),
        pytest.param(token_of({"last_modified": 1.5}), id="float-timestamp"),
        pytest.param(token_of({"v": 1}), id="no-timestamp"),
        pytest.param(token_of({"last_modified": 1, "id": 5}), id="numeric-id"),
        pytest.param(token_of({"last_modified": 1}, offset=-1), id="negative-offset"),
        pytest.param(token_of({"last_modified": 1}, offset=2**64), id="huge-offset"),
        pytest.param(token_of({"last_modified": 1}, offset=None), id="null-offset"),
        pytest.param(token_of({"last_modified": 1}, nonce=5), id="numeric-nonce"),
        pytest.param(token_of({"last_modified": 1}, nonce="n"), id="foreign-nonce"),
        pytest.param(token_of([]), id="last-object-not-an-object"),
        pytest.param(make_token([1]), id="not-an-object"),
        pytest.param("%C3%A9" * 8, id="not-ascii"),
        pytest.param("abc", id="not-base64"),
    ],
)
def test_invalid_tokens_are_a_400(mixed: webtest.TestApp, token: str) -> None:
    response = mixed.get(f"{RECORDS}?_sort=v,id&_token={token}", headers=ALICE, status=400)
    assert response.json["errno"] == 107
    assert response.json["details"] == [INVALID]


@pytest.mark.clone_only  # Kinto 26.5.0 refuses arrays in tokens.
def test_a_valid_token_is_accepted(mixed: webtest.TestApp) -> None:
    token = token_of({"last_modified": 1, "v": nested(250), "id": "r"})
    mixed.get(f"{RECORDS}?_sort=v,id&_token={token}", headers=ALICE, status=200)


@pytest.mark.clone_only  # Kinto 26.5.0 answers 400 to values it cannot compare.
@pytest.mark.parametrize(
    "value",
    [2**64, -(2**70), 10**400, 1e300, [1, {"a": [None]}], {"k": [2]}, "\u00e9\U0001f600", ""],
)
def test_any_json_value_a_record_may_hold_is_a_valid_token_value(
    mixed: webtest.TestApp, value: Any
) -> None:
    token = token_of({"v": value, "last_modified": 2**62})
    whole = mixed.get(f"{RECORDS}?_sort=v", headers=ALICE).json["data"]
    after = mixed.get(f"{RECORDS}?_sort=v&_token={token}", headers=ALICE).json["data"]
    assert [obj["id"] for obj in after] == [
        obj["id"] for obj in whole if obj["id"] in {o["id"] for o in after}
    ]


@pytest.mark.clone_only  # Kinto 26.5.0 answers 500.
def test_a_token_of_nested_values_decodes_in_linear_time(mixed: webtest.TestApp) -> None:
    """200,000 levels of nesting, refused without recursing through them."""
    token = base64.urlsafe_b64encode(b'{"a":' * 30_000 + b"1" + b"}" * 30_000).decode()
    response = mixed.get(f"{RECORDS}?_token={token}", headers=ALICE, status=400)
    assert response.json["details"] == [INVALID]


@pytest.mark.parametrize(
    "query",
    [
        "_limit=2",
        "_sort=-v&_limit=3&has_v=true",
        "exclude_v=%C3%A9%20%C3%BC+x%26y%3D&_fields=v,sub.n&_limit=1",
        "_limit=1&_sort=id&_limit=2&exclude_id=a/b%3F",
    ],
)
def test_next_page_url_is_spelled_as_pyramid_spells_it(mixed: webtest.TestApp, query: str) -> None:
    response = mixed.get(f"{RECORDS}?{query}", headers=ALICE)
    url = response.headers["Next-Page"]
    sent = webob.Request.blank(f"{RECORDS}?{query}").GET
    params = {**dict(sent), "_limit": sent.getall("_limit")[-1]}
    token = webob.Request.blank(url).GET["_token"]
    expected = "http://localhost" + RECORDS + "?" + urlencode({**params, "_token": token})
    assert url == expected
