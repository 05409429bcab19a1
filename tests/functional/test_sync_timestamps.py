"""Timestamps, ETags and conditional requests: what sync clients build on.

Every write in a collection gets an integer ``last_modified`` in milliseconds,
unique and strictly increasing within the collection; the list's ``ETag`` is
the collection timestamp.  Clients poll with ``If-None-Match`` and write with
``If-Match`` / ``If-None-Match: *`` (Kinto docs, "Synchronisation").
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import pytest
import webtest

from tests.functional.helpers import ALICE

RECORDS = "/v1/buckets/b/collections/c/records"
FUTURE = 3_000_000_000_000  # 2065: ahead of any clock the tests run with.


def etag(response: webtest.TestResponse) -> int:
    value = response.headers["ETag"]
    assert value.startswith('"') and value.endswith('"'), value
    return int(value[1:-1])


def quoted(timestamp: int) -> str:
    return f'"{timestamp}"'


def create(app: webtest.TestApp, record_id: str, **fields: object) -> dict:
    response = app.put_json(f"{RECORDS}/{record_id}", {"data": fields}, headers=ALICE)
    return response.json["data"]


# --- Timestamps ---------------------------------------------------------------


def test_timestamps_are_integer_milliseconds(empty_collection: webtest.TestApp) -> None:
    record = create(empty_collection, "r1")
    assert isinstance(record["last_modified"], int)
    assert abs(record["last_modified"] - time.time() * 1000) < 60_000


def test_timestamps_are_unique_and_increasing(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    timestamps = [
        app.post_json(RECORDS, {"data": {"i": i}}, headers=ALICE).json["data"]["last_modified"]
        for i in range(30)
    ]
    assert timestamps == sorted(set(timestamps))
    assert etag(app.get(RECORDS, headers=ALICE)) == timestamps[-1]


def test_a_write_in_the_same_millisecond_is_bumped_by_one(
    empty_collection: webtest.TestApp,
) -> None:
    # A client-supplied timestamp equal to the collection's is bumped by one;
    # the clock being behind the collection, the next write gets previous + 1.
    app = empty_collection
    assert create(app, "r1", last_modified=FUTURE)["last_modified"] == FUTURE
    assert create(app, "r2", last_modified=FUTURE)["last_modified"] == FUTURE + 1
    posted = app.post_json(RECORDS, {"data": {}}, headers=ALICE).json["data"]
    assert posted["last_modified"] == FUTURE + 2
    assert etag(app.get(RECORDS, headers=ALICE)) == FUTURE + 2


def test_writes_and_deletions_bump_the_collection_timestamp(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    empty = etag(app.get(RECORDS, headers=ALICE))
    created = create(app, "r1")["last_modified"]
    updated = app.patch_json(f"{RECORDS}/r1", {"data": {"a": 1}}, headers=ALICE).json["data"]
    deleted = app.delete(f"{RECORDS}/r1", headers=ALICE).json["data"]
    assert empty < created < updated["last_modified"] < deleted["last_modified"]
    assert etag(app.get(RECORDS, headers=ALICE)) == deleted["last_modified"]


def test_an_empty_collection_keeps_its_timestamp(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    first = app.get(RECORDS, headers=ALICE)
    time.sleep(0.01)
    second = app.get(RECORDS, headers=ALICE)
    head = app.head(RECORDS, headers=ALICE)
    assert etag(first) == etag(second) == etag(head)
    assert first.headers["Last-Modified"] == second.headers["Last-Modified"]


def test_a_greater_client_timestamp_is_kept_a_smaller_one_ignored(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    record = create(app, "r1")
    kept = create(app, "r1", last_modified=FUTURE)
    assert kept["last_modified"] == FUTURE
    ignored = create(app, "r1", last_modified=record["last_modified"])
    assert ignored["last_modified"] == FUTURE + 1
    patched = app.patch_json(f"{RECORDS}/r1", {"data": {"last_modified": 5}}, headers=ALICE)
    assert patched.json["data"]["last_modified"] == FUTURE + 2


@pytest.mark.clone_only  # Kinto keeps the past timestamp: pollers never see the object.
def test_a_past_client_timestamp_never_goes_back_in_time(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    before = etag(app.get(RECORDS, headers=ALICE))
    response = app.post_json(RECORDS, {"data": {"last_modified": 1234}}, headers=ALICE)
    assert response.json["data"]["last_modified"] > before
    since = app.get(f"{RECORDS}?_since={before}", headers=ALICE).json["data"]
    assert [r["id"] for r in since] == [response.json["data"]["id"]]


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        12.5,
        None,
        # Kinto 26.5.0 stores these as the timestamp of a new object.
        pytest.param(True, marks=pytest.mark.clone_only),
        pytest.param(-5, marks=pytest.mark.clone_only),
    ],
)
def test_a_client_timestamp_that_is_not_a_positive_integer_is_ignored(
    empty_collection: webtest.TestApp, value: object
) -> None:
    record = create(empty_collection, "r1", last_modified=value)
    assert isinstance(record["last_modified"], int)
    assert record["last_modified"] > 1_000_000_000_000


def test_delete_with_a_greater_last_modified_forces_the_tombstone_timestamp(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    create(app, "r1")
    create(app, "r2")
    forced = app.delete(f"{RECORDS}/r1?last_modified={FUTURE}", headers=ALICE)
    assert forced.json["data"] == {"id": "r1", "last_modified": FUTURE, "deleted": True}
    assert forced.headers["ETag"] == quoted(FUTURE)
    smaller = app.delete(f"{RECORDS}/r2?last_modified=5", headers=ALICE).json["data"]
    assert smaller["last_modified"] == FUTURE + 1
    tombstones = app.get(f"{RECORDS}?_since=0", headers=ALICE).json["data"]
    assert [t["last_modified"] for t in tombstones] == [FUTURE + 1, FUTURE]


@pytest.mark.clone_only  # Kinto 26.5.0 answers 500 here.
def test_delete_with_an_invalid_last_modified_is_a_400(
    empty_collection: webtest.TestApp,
) -> None:
    create(empty_collection, "r1")
    response = empty_collection.delete(
        f"{RECORDS}/r1?last_modified=abc", headers=ALICE, status=400
    )
    assert response.json["errno"] == 107
    assert response.json["details"][0]["name"] == "last_modified"
    empty_collection.get(f"{RECORDS}/r1", headers=ALICE, status=200)


# --- ETag and Last-Modified ---------------------------------------------------


def test_object_and_list_carry_etag_and_last_modified(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    record = create(app, "r1")
    for response in (app.get(f"{RECORDS}/r1", headers=ALICE), app.get(RECORDS, headers=ALICE)):
        assert response.headers["ETag"] == quoted(record["last_modified"])
        http_date = parsedate_to_datetime(response.headers["Last-Modified"])
        assert int(http_date.timestamp()) == record["last_modified"] // 1000


def test_the_list_etag_ignores_filters_sorting_and_limits(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    create(app, "r1", n=1)
    last = create(app, "r2", n=2)["last_modified"]
    for query in ("n=1", "n=42", "_limit=1", "_sort=n", "_since=0", f"_before={last}"):
        assert etag(app.get(f"{RECORDS}?{query}", headers=ALICE)) == last, query


def test_write_responses_carry_the_new_etag(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    created = app.put_json(f"{RECORDS}/r1", {"data": {}}, headers=ALICE)
    patched = app.patch_json(f"{RECORDS}/r1", {"data": {"a": 1}}, headers=ALICE)
    deleted = app.delete(f"{RECORDS}/r1", headers=ALICE)
    for response in (created, patched, deleted):
        assert etag(response) == response.json["data"]["last_modified"]


# --- If-None-Match on reads ---------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_none_match_on_an_unchanged_list_is_a_304(
    empty_collection: webtest.TestApp, method: str
) -> None:
    app = empty_collection
    create(app, "r1")
    current = app.get(RECORDS, headers=ALICE).headers["ETag"]
    headers = {**ALICE, "If-None-Match": current}
    response = app.request(RECORDS, method=method, headers=headers, status=304)
    assert response.headers["ETag"] == current
    assert response.body == b""


def test_if_none_match_on_an_unchanged_object_is_a_304(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    record = create(app, "r1")
    headers = {**ALICE, "If-None-Match": quoted(record["last_modified"])}
    response = app.get(f"{RECORDS}/r1", headers=headers, status=304)
    assert response.headers["ETag"] == quoted(record["last_modified"])


def test_if_none_match_with_an_old_etag_returns_the_data(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    old = create(app, "r1")["last_modified"]
    create(app, "r2")
    headers = {**ALICE, "If-None-Match": quoted(old)}
    assert len(app.get(RECORDS, headers=headers, status=200).json["data"]) == 2
    app.patch_json(f"{RECORDS}/r1", {"data": {"a": 1}}, headers=ALICE)
    assert app.get(f"{RECORDS}/r1", headers=headers, status=200).json["data"]["a"] == 1


# --- If-Match ---------------------------------------------------------------


def test_a_stale_if_match_is_a_412_showing_the_current_object(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    app.put_json(
        f"{RECORDS}/r1",
        {"data": {"a": 1}, "permissions": {"read": ["system.Everyone"]}},
        headers=ALICE,
    )
    current = app.patch_json(f"{RECORDS}/r1", {"data": {"a": 2}}, headers=ALICE).json["data"]
    stale = {**ALICE, "If-Match": quoted(current["last_modified"] - 1)}
    responses = [
        app.put_json(f"{RECORDS}/r1", {"data": {"a": 3}}, headers=stale, status=412),
        app.patch_json(f"{RECORDS}/r1", {"data": {"a": 3}}, headers=stale, status=412),
        app.delete(f"{RECORDS}/r1", headers=stale, status=412),
        app.get(f"{RECORDS}/r1", headers=stale, status=412),
    ]
    for response in responses:
        assert response.json == {
            "code": 412,
            "errno": 114,
            "error": "Precondition Failed",
            "message": "Resource was modified meanwhile",
            "details": {"existing": current},
        }
        assert response.headers["ETag"] == quoted(current["last_modified"])
    assert app.get(f"{RECORDS}/r1", headers=ALICE).json["data"] == current


def test_a_matching_if_match_lets_the_write_through(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    record = create(app, "r1")
    headers = {**ALICE, "If-Match": quoted(record["last_modified"])}
    updated = app.patch_json(f"{RECORDS}/r1", {"data": {"a": 1}}, headers=headers).json["data"]
    headers = {**ALICE, "If-Match": quoted(updated["last_modified"])}
    app.delete(f"{RECORDS}/r1", headers=headers, status=200)


def test_a_stale_if_match_on_the_list_is_a_412_without_details(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    create(app, "r1")
    stale = {**ALICE, "If-Match": '"1"'}
    for response in (
        app.get(RECORDS, headers=stale, status=412),
        app.delete(RECORDS, headers=stale, status=412),
        app.post_json(RECORDS, {"data": {}}, headers=stale, status=412),
    ):
        assert response.json["errno"] == 114
        assert "details" not in response.json
    assert len(app.get(RECORDS, headers=ALICE).json["data"]) == 1


def test_if_match_on_a_missing_object_is_a_412(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    for value in ('"123"', "*"):
        headers = {**ALICE, "If-Match": value}
        response = app.put_json(f"{RECORDS}/new", {"data": {}}, headers=headers, status=412)
        assert response.json["errno"] == 114
        assert "details" not in response.json
    app.get(f"{RECORDS}/new", headers=ALICE, status=404)


def test_if_match_star_requires_existence_only(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    create(app, "r1")
    headers = {**ALICE, "If-Match": "*"}
    app.put_json(f"{RECORDS}/r1", {"data": {"a": 1}}, headers=headers, status=200)


# --- If-None-Match: * (create only) -------------------------------------------


def test_if_none_match_star_creates_but_never_overwrites(
    empty_collection: webtest.TestApp,
) -> None:
    app = empty_collection
    headers = {**ALICE, "If-None-Match": "*"}
    created = app.put_json(f"{RECORDS}/r1", {"data": {"a": 1}}, headers=headers, status=201)
    response = app.put_json(f"{RECORDS}/r1", {"data": {"a": 2}}, headers=headers, status=412)
    assert response.json["errno"] == 114
    assert response.json["details"] == {"existing": created.json["data"]}
    assert app.get(f"{RECORDS}/r1", headers=ALICE).json["data"]["a"] == 1


def test_if_none_match_star_on_post_with_an_id(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    headers = {**ALICE, "If-None-Match": "*"}
    body = {"data": {"id": "r1", "a": 1}}
    created = app.post_json(RECORDS, body, headers=headers, status=201).json["data"]
    response = app.post_json(RECORDS, body, headers=headers, status=412)
    assert response.json["details"] == {"existing": created}
    # Without the header, posting an existing id returns it unchanged.
    assert app.post_json(RECORDS, body, headers=ALICE, status=200).json["data"] == created


# --- Malformed conditions -----------------------------------------------------


@pytest.mark.parametrize("header", ["If-Match", "If-None-Match"])
@pytest.mark.parametrize("value", ["123", "abc", '"abc"', '"12', 'W/"1"', '""'])
def test_malformed_conditions_are_a_400(
    empty_collection: webtest.TestApp, header: str, value: str
) -> None:
    app = empty_collection
    create(app, "r1")
    headers = {**ALICE, header: value}
    for response in (
        app.get(RECORDS, headers=headers, status=400),
        app.get(f"{RECORDS}/r1", headers=headers, status=400),
        app.put_json(f"{RECORDS}/r1", {"data": {}}, headers=headers, status=400),
    ):
        assert response.json["errno"] == 107
        assert response.json["details"] == [
            {
                "location": "header",
                "name": header,
                "description": "The value should be integer between double quotes.",
            }
        ]
