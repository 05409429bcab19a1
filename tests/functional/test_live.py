"""Live changes (issue 18): long-poll with ``Prefer: wait`` and server-sent events.

Run once per backend; writes come from another thread while a request waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE, BOB, principal
from tests.functional.live_helpers import EventStreamReader

pytestmark = pytest.mark.clone_only

B = "/v1/buckets/b"
C = f"{B}/collections/c"
RECORDS = f"{C}/records"
LIVE_SETTINGS = {
    "kinto.live_heartbeat_seconds": "1",
    "kinto.includes": "tests.functional.exploding_plugin",
}


@pytest.fixture
def app(make_app: MakeApp) -> webtest.TestApp:
    app = make_app(**LIVE_SETTINGS)
    app.put_json(B, {}, headers=ALICE)
    app.put_json(C, {}, headers=ALICE)
    return app


@pytest.fixture
def later() -> Iterator[Callable[..., None]]:
    """``later(function)``: run ``function`` after a short delay, in another thread."""
    threads: list[threading.Thread] = []

    def run(function: Callable[[], object], delay: float = 0.3) -> None:
        thread = threading.Thread(target=lambda: (time.sleep(delay), function()))
        thread.start()
        threads.append(thread)

    yield run
    for thread in threads:
        thread.join()


@pytest.fixture
def streams() -> Iterator[Callable[..., EventStreamReader]]:
    opened: list[EventStreamReader] = []

    def open_stream(app: webtest.TestApp, path: str, headers: dict[str, str]) -> EventStreamReader:
        reader = EventStreamReader(app, path, headers)
        opened.append(reader)
        return reader

    yield open_stream
    for reader in opened:
        reader.close()


def create(app: webtest.TestApp, data: dict, headers: dict[str, str] = ALICE) -> dict:
    return app.post_json(RECORDS, {"data": data}, headers=headers).json["data"]


# --- Long-poll ----------------------------------------------------------------


def test_long_poll_wakes_on_a_commit(app, later):
    etag = app.get(RECORDS, headers=ALICE).headers["ETag"]
    later(lambda: create(app, {"title": "new"}))
    start = time.monotonic()
    response = app.get(RECORDS, headers={**ALICE, "If-None-Match": etag, "Prefer": "wait=10"})
    elapsed = time.monotonic() - start
    assert response.status_int == 200
    assert [r["title"] for r in response.json["data"]] == ["new"]
    assert response.headers["Preference-Applied"] == "wait=10"
    assert 0.2 < elapsed < 5


def test_long_poll_with_since_wakes_with_the_new_records_only(app, later):
    old = create(app, {"title": "old"})
    later(lambda: create(app, {"title": "new"}))
    response = app.get(
        f"{RECORDS}?_since={old['last_modified']}", headers={**ALICE, "Prefer": "wait=10"}
    )
    assert [r["title"] for r in response.json["data"]] == ["new"]


def test_long_poll_times_out_cleanly(app):
    etag = app.get(RECORDS, headers=ALICE).headers["ETag"]
    start = time.monotonic()
    response = app.get(
        RECORDS, headers={**ALICE, "If-None-Match": etag, "Prefer": "wait=1"}, status=304
    )
    assert time.monotonic() - start >= 1
    assert response.headers["Preference-Applied"] == "wait=1"
    since = app.get(
        f"{RECORDS}?_since={etag.strip(chr(34))}", headers={**ALICE, "Prefer": "wait=1"}
    )
    assert since.json == {"data": []}
    assert since.headers["ETag"] == etag


def test_long_poll_ignores_other_lists(app, later):
    app.put_json(f"{B}/collections/other", {}, headers=ALICE)
    etag = app.get(RECORDS, headers=ALICE).headers["ETag"]
    later(lambda: app.post_json(f"{B}/collections/other/records", {"data": {}}, headers=ALICE))
    app.get(RECORDS, headers={**ALICE, "If-None-Match": etag, "Prefer": "wait=1"}, status=304)


def test_without_prefer_nothing_changes(app):
    etag = app.get(RECORDS, headers=ALICE).headers["ETag"]
    start = time.monotonic()
    response = app.get(RECORDS, headers={**ALICE, "If-None-Match": etag}, status=304)
    assert time.monotonic() - start < 1
    assert "Preference-Applied" not in response.headers
    unconditional = app.get(RECORDS, headers={**ALICE, "Prefer": "wait=5"})
    assert "Preference-Applied" not in unconditional.headers


@pytest.mark.parametrize("preference", ["wait=abc", "wait=", "wait=1.5", "wait=-1", "wait"])
def test_unreadable_wait_preference_is_ignored(app, preference):
    # RFC 7240: a preference the server does not understand is ignored, so the
    # answer is the one without the header, at once.
    etag = app.get(RECORDS, headers=ALICE).headers["ETag"]
    start = time.monotonic()
    headers = {**ALICE, "If-None-Match": etag, "Prefer": preference}
    response = app.get(RECORDS, headers=headers, status=304)
    assert time.monotonic() - start < 1
    assert "Preference-Applied" not in response.headers
    since_headers = {**ALICE, "Prefer": preference}
    since = app.get(f"{RECORDS}?_since={etag.strip(chr(34))}", headers=since_headers)
    assert since.json == {"data": []}
    assert "Preference-Applied" not in since.headers


def test_long_poll_errors_are_answered_at_once(app):
    response = app.get(f"{RECORDS}?_since=1", headers={**BOB, "Prefer": "wait=10"}, status=403)
    assert response.json["errno"] == 121
    app.get(f"{RECORDS}?_since=abc", headers={**ALICE, "Prefer": "wait=10"}, status=400)


# --- Server-sent events ------------------------------------------------------


def test_stream_delivers_create_update_delete_in_commit_order(app, streams):
    stream = streams(app, RECORDS, ALICE)
    assert stream.status == "200 OK"
    assert dict(stream.headers)["Content-Type"].startswith("text/event-stream")
    record = create(app, {"title": "a"})
    app.patch_json(f"{RECORDS}/{record['id']}", {"data": {"title": "b"}}, headers=ALICE)
    deleted = app.delete(f"{RECORDS}/{record['id']}", headers=ALICE).json["data"]
    events = []
    while len(events) < 3:
        event = stream.next()
        assert event is not None
        events.append(event)
        # Changes read together may be coalesced; here each one is awaited.
        if event.kind == "delete":
            break
    assert events[-1].kind == "delete"
    assert events[-1].data == deleted
    assert events[-1].id == str(deleted["last_modified"])
    ids = [int(e.id) for e in events]
    assert ids == sorted(ids)


def test_stream_sends_each_change_as_it_commits(app, streams):
    stream = streams(app, RECORDS, ALICE)
    record = create(app, {"title": "a"})
    (created,) = stream.take(1)
    assert (created.kind, created.data, created.id) == (
        "change",
        record,
        str(record["last_modified"]),
    )
    updated = app.patch_json(
        f"{RECORDS}/{record['id']}", {"data": {"title": "b"}}, headers=ALICE
    ).json["data"]
    assert stream.take(1)[0].data == updated
    deleted = app.delete(f"{RECORDS}/{record['id']}", headers=ALICE).json["data"]
    (tombstone,) = stream.take(1)
    assert (tombstone.kind, tombstone.data) == ("delete", deleted)


def test_stream_applies_the_list_filters(app, streams):
    stream = streams(app, f"{RECORDS}?status=done", ALICE)
    create(app, {"status": "todo"})
    done = create(app, {"status": "done"})
    (event,) = stream.take(1)
    assert event.data == done
    stream.assert_silent(0.5)


def test_stream_since_replays_then_follows(app, streams):
    first = create(app, {"n": 1})
    second = create(app, {"n": 2})
    stream = streams(app, f"{RECORDS}?_since={first['last_modified']}", ALICE)
    assert stream.take(1)[0].data == second
    third = create(app, {"n": 3})
    assert stream.take(1)[0].data == third


def test_last_event_id_resumes_with_nothing_missed_or_repeated(app, streams):
    count = 30
    created: list[dict] = []

    def write() -> None:
        for n in range(count):
            created.append(create(app, {"n": n}))

    writer = threading.Thread(target=write)
    stream = streams(app, RECORDS, ALICE)
    writer.start()
    received = stream.take(10)
    stream.close()
    last_id = received[-1].id
    resumed = streams(app, RECORDS, {**ALICE, "Last-Event-ID": last_id})
    writer.join()
    received += resumed.take(count - 10)
    assert [e.data for e in received] == created
    resumed.assert_silent(0.3)


def test_stream_of_the_buckets_and_collections(app, streams):
    buckets = streams(app, "/v1/buckets", ALICE)
    collections = streams(app, f"{B}/collections", ALICE)
    app.put_json(f"{B}/collections/new", {}, headers=ALICE)
    assert collections.take(1)[0].data["id"] == "new"
    app.put_json("/v1/buckets/other", {}, headers=ALICE)
    assert buckets.take(1)[0].data["id"] == "other"


# --- Permissions ----------------------------------------------------------------


def test_subscriber_without_read_permission_receives_nothing(app, streams):
    refused = streams(app, RECORDS, BOB)
    assert refused.status.startswith("403")
    assert refused.error_body["errno"] == 121
    app.put_json(f"{B}/collections/shared", {}, headers=ALICE)
    record = app.put_json(
        f"{B}/collections/shared/records/visible",
        {"permissions": {"read": [principal("bob")]}},
        headers=ALICE,
    ).json["data"]
    bob = streams(app, f"{B}/collections/shared/records?_since=0", BOB)
    app.put_json(f"{B}/collections/shared/records/hidden", {}, headers=ALICE)
    assert [e.data["id"] for e in bob.take(1)] == [record["id"]]
    bob.assert_silent(0.5)


def test_losing_read_permission_ends_the_stream(app, streams):
    app.patch_json(C, {"permissions": {"read": [principal("bob")]}}, headers=ALICE)
    bob = streams(app, RECORDS, BOB)
    create(app, {"n": 1})
    assert bob.take(1)[0].data["n"] == 1
    app.put_json(C, {"permissions": {"read": []}}, headers=ALICE)
    create(app, {"n": 2})
    error = bob.next()
    assert error is not None and error.kind == "error"
    assert error.data["errno"] == 121
    assert bob.next() is None


def test_deleted_list_ends_the_stream_with_an_error_event(app, streams):
    stream = streams(app, RECORDS, ALICE)
    create(app, {"n": 1})
    assert stream.take(1)[0].data["n"] == 1
    app.delete(C, headers=ALICE)
    error = stream.next()
    assert error is not None and error.kind == "error"
    assert error.id is None
    assert error.data["code"] == 404
    assert error.data["errno"] == 111
    assert stream.next() is None
    assert app.app.registry.live_hub.subscriber_count == 0


def test_one_commit_wakes_its_subscribers_once(app, monkeypatch):
    """The process that commits wakes the list's subscribers; the change
    sources of other processes (SQLite's watcher, PostgreSQL's LISTEN) must not
    wake them a second time for the same commit."""
    hub = app.app.registry.live_hub
    published: list[list] = []
    publish = hub.publish
    monkeypatch.setattr(hub, "publish", lambda groups: (published.append(groups), publish(groups)))
    subscription = hub.subscribe()  # Starts the change source of the backend.
    try:
        time.sleep(0.3)
        published.clear()
        create(app, {"n": 1})
        time.sleep(0.5)  # Many polls of the SQLite watcher.
    finally:
        subscription.close()
    group = ("record", "/buckets/b/collections/c")
    # (Other groups may show up: the SQL database is emptied between tests.)
    woken = [set(groups) for groups in published if groups is not None]
    assert [groups for groups in woken if group in groups] == [{group}]


def test_anonymous_stream_sees_only_public_objects(app, streams):
    app.put_json(
        f"{B}/collections/public", {"permissions": {"read": ["system.Everyone"]}}, headers=ALICE
    )
    assert streams(app, RECORDS, {}).status.startswith(("401", "403"))
    anonymous = streams(app, f"{B}/collections/public/records", {})
    app.post_json(f"{B}/collections/public/records", {"data": {"n": 1}}, headers=ALICE)
    assert anonymous.take(1)[0].data["n"] == 1


# --- Atomicity and bounds -----------------------------------------------------


def test_rolled_back_batch_produces_no_event(app, streams):
    stream = streams(app, RECORDS, ALICE)
    batch = {
        "defaults": {"method": "POST", "path": RECORDS},
        "requests": [{"body": {"data": {"n": 1}}}, {"body": {"data": {"explode": True}}}],
    }
    app.post_json("/v1/batch", batch, headers=ALICE, status=500)
    assert app.get(RECORDS, headers=ALICE).json["data"] == []
    stream.assert_silent(0.5)
    kept = create(app, {"n": 2})
    assert stream.take(1)[0].data == kept


def test_past_the_bound_a_503_with_retry_after(make_app, streams):
    app = make_app(**{**LIVE_SETTINGS, "kinto.live_max_subscribers": "1"})
    app.put_json(B, {}, headers=ALICE)
    app.put_json(C, {}, headers=ALICE)
    first = streams(app, RECORDS, ALICE)
    assert first.status == "200 OK"
    stream_headers = {**ALICE, "Accept": "text/event-stream", "Origin": "https://app.example"}
    refused = app.get(RECORDS, headers=stream_headers, status=503)
    assert refused.headers["Retry-After"]
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    assert refused.json["errno"] == 201
    app.get(RECORDS, headers={**ALICE, "If-None-Match": '"1"', "Prefer": "wait=1"}, status=503)


def test_capability_announces_the_limits(app):
    live = app.get("/v1/").json["capabilities"]["live"]
    assert live["max_subscribers"] == 1000
    assert live["max_wait_seconds"] == 60
    assert live["heartbeat_seconds"] == 1


def test_stream_answers_browsers_with_cors_headers(app, streams):
    stream = streams(app, RECORDS, {**ALICE, "Origin": "https://app.example"})
    headers = dict(stream.headers)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in headers["Access-Control-Expose-Headers"]
    assert headers["Cache-Control"] == "no-cache"
