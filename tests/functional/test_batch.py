"""``POST /v1/batch``: several requests in one round trip.

Clients (kinto-http, kinto.js sync) send their writes through it, and read the
answer slot by slot: one ``{status, path, headers, body}`` per sub-request, in
order.  A malformed batch is refused as a whole (400, errno 107) before anything
runs; a sub-request answered with an ordinary 4xx is reported in its slot while
the others are kept.  Where this server deliberately differs from Kinto 26.5.0
(a 409 or 5xx sub-request undoes the whole batch) the tests are ``clone_only``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import webtest

from kinto_clone.core.storage import BackendError, IntegrityError
from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE, BOB, default_bucket_id, principal
from tests.functional.test_atomicity import snapshot
from tests.functional.test_bad_input import assert_invalid

BATCH = "/v1/batch"
B = "/v1/buckets/b"
RECORDS = f"{B}/collections/c/records"
# Sub-request paths may leave out the ``/v1`` prefix.
SHORT_RECORDS = "/buckets/b/collections/c/records"
RECURSIVE = "Recursive call on /batch endpoint is forbidden."
Spec = dict[str, Any]


def post_batch(
    app: webtest.TestApp, payload: Any, headers: dict[str, str] = ALICE, status: int = 200
) -> webtest.TestResponse:
    return app.post_json(BATCH, payload, headers=headers, status=status)


def run_batch(
    app: webtest.TestApp, requests: list[Spec], headers: dict[str, str] = ALICE
) -> list[dict[str, Any]]:
    """The slots of a batch that must succeed as a whole, one per sub-request."""
    responses = post_batch(app, {"requests": requests}, headers=headers).json["responses"]
    assert len(responses) == len(requests)
    return responses


def statuses(responses: list[dict[str, Any]]) -> list[int]:
    return [response["status"] for response in responses]


def bucket_ids(app: webtest.TestApp) -> list[str]:
    return sorted(bucket["id"] for bucket in app.get("/v1/buckets", headers=ALICE).json["data"])


# --- The responses --------------------------------------------------------------


def test_one_response_per_subrequest_in_order(tree: webtest.TestApp) -> None:
    responses = run_batch(
        tree,
        [
            {"path": f"{RECORDS}/r"},
            {"method": "PUT", "path": f"{SHORT_RECORDS}/new", "body": {"data": {"n": 1}}},
            {"path": "/buckets/b/collections/c"},
            {"path": "/unknown"},
        ],
    )
    assert statuses(responses) == [200, 201, 200, 404]
    assert [response["path"] for response in responses] == [
        f"{RECORDS}/r",
        f"{RECORDS}/new",
        f"{B}/collections/c",
        "/v1/unknown",
    ]
    for response in responses:
        assert set(response) == {"status", "path", "headers", "body"}
        assert response["headers"]["Content-Type"].startswith("application/json")
    assert responses[0]["body"] == tree.get(f"{RECORDS}/r", headers=ALICE).json
    created = tree.get(f"{RECORDS}/new", headers=ALICE)
    assert responses[1]["body"] == created.json
    assert responses[1]["headers"]["ETag"] == created.headers["ETag"]
    assert responses[2]["body"]["data"]["id"] == "c"
    assert responses[3]["body"]["errno"] == 111


def test_an_empty_batch_answers_no_responses(app: webtest.TestApp) -> None:
    assert post_batch(app, {"requests": []}).json == {"responses": []}


def test_defaults_are_merged_into_each_request(tree: webtest.TestApp) -> None:
    """Values a request lacks come from ``defaults``, objects merged key by key;
    the request's own values win."""
    defaults = {
        "method": "PUT",
        "path": f"{RECORDS}/from-defaults",
        "headers": {"If-None-Match": "*"},
        "body": {"data": {"kind": "default", "nested": {"a": 1, "b": 1}}},
    }
    requests: list[Spec] = [
        {},
        {"path": f"{RECORDS}/plain"},
        {"path": f"{RECORDS}/merged", "body": {"data": {"nested": {"b": 2}}}},
        # ``r`` exists: the default ``If-None-Match: *`` refuses to replace it...
        {"path": f"{RECORDS}/r"},
        # ... unless the request says otherwise.
        {"path": f"{RECORDS}/r", "headers": {"If-None-Match": '"1"'}},
        {"method": "GET", "path": f"{RECORDS}/plain", "headers": {"If-None-Match": '"1"'}},
    ]
    payload = {"defaults": defaults, "requests": requests}
    responses = post_batch(tree, payload).json["responses"]
    assert statuses(responses) == [201, 201, 201, 412, 200, 200]
    assert responses[0]["path"] == f"{RECORDS}/from-defaults"
    stored = {
        rid: tree.get(f"{RECORDS}/{rid}", headers=ALICE).json["data"]
        for rid in ("from-defaults", "plain", "merged", "r")
    }
    for record in stored.values():
        assert record["kind"] == "default"
    assert stored["plain"]["nested"] == {"a": 1, "b": 1}
    assert stored["merged"]["nested"] == {"a": 1, "b": 2}
    assert "x" not in stored["r"]
    assert responses[5]["body"]["data"] == stored["plain"]


def test_a_null_method_means_get(tree: webtest.TestApp) -> None:
    responses = run_batch(tree, [{"method": None, "path": f"{RECORDS}/r"}])
    assert statuses(responses) == [200]
    assert responses[0]["body"]["data"]["x"] == 1


def test_bodies_are_sent_as_plain_json(tree: webtest.TestApp) -> None:
    """Kinto gives every sub-request body the JSON content type: a merge-patch
    ``Content-Type`` in a sub-request is not honoured, ``null`` is stored."""
    patch = {
        "method": "PATCH",
        "path": f"{RECORDS}/r",
        "headers": {"Content-Type": "application/merge-patch+json"},
        "body": {"data": {"x": None}},
    }
    assert statuses(run_batch(tree, [patch])) == [200]
    assert tree.get(f"{RECORDS}/r", headers=ALICE).json["data"]["x"] is None


# --- Size limit -----------------------------------------------------------------


def test_at_most_25_requests_by_default(app: webtest.TestApp) -> None:
    assert statuses(run_batch(app, [{"path": "/"}] * 25)) == [200] * 25
    too_many = [{"method": "PUT", "path": f"/buckets/b{i}"} for i in range(26)]
    detail = assert_invalid(post_batch(app, {"requests": too_many}, status=400))
    assert detail == {
        "location": "body",
        "name": "requests",
        "description": "Number of requests is limited to 25",
    }
    assert bucket_ids(app) == []


def test_the_limit_is_a_setting(make_app: MakeApp) -> None:
    app = make_app(**{"kinto.batch_max_requests": "3"})
    assert app.get("/v1/").json["settings"]["batch_max_requests"] == 3
    assert statuses(run_batch(app, [{"path": "/"}] * 3)) == [200] * 3
    response = post_batch(app, {"requests": [{"path": "/"}] * 4}, status=400)
    assert assert_invalid(response)["description"] == "Number of requests is limited to 3"
    assert response.json["message"] == "Number of requests is limited to 3"


# --- Malformed batches ------------------------------------------------------------

METHOD_ERROR = '"{}" is not one of GET, HEAD, DELETE, TRACE, POST, PUT, PATCH'


@pytest.mark.parametrize(
    ("payload", "name", "description"),
    [
        ({}, "requests", "Required"),
        ({"requests": {}}, "requests", '"{}" is not iterable'),
        ({"requests": "abc"}, "requests", '"abc" is not iterable'),
        ({"requests": [{}]}, "requests.0.path", "Required"),
        ({"requests": [{"path": None}]}, "requests.0.path", "Required"),
        ({"requests": [{"path": "/", "method": "FOO"}]}, "requests.0.method", METHOD_ERROR),
        ({"requests": [{"path": "/", "method": "get"}]}, "requests.0.method", None),
        ({"requests": [{"path": "/", "foo": 1}]}, "requests.0", None),
        ({"requests": [{"path": "buckets"}]}, "requests.0.path", None),
        ({"requests": [{"path": "/", "headers": {"X-A": 1}}]}, "requests.0.headers", None),
        ({"requests": [{"path": "/", "headers": []}]}, "requests.0.headers", None),
        ({"requests": [{"path": "/", "body": []}]}, "requests.0.body", None),
        ({"requests": ["/"]}, "requests.0", None),
        ({"requests": [{"path": "/"}, {"path": 1}]}, "requests.1.path", None),
        ({"defaults": {"method": "FOO"}, "requests": [{"path": "/"}]}, "defaults.method", None),
        ({"defaults": [], "requests": [{"path": "/"}]}, "defaults", None),
        ({"requests": [{"path": "/batch", "method": "POST"}]}, "requests", RECURSIVE),
        ({"requests": [{"path": "/v1/batch", "method": "POST"}]}, "requests", RECURSIVE),
        ({"requests": [{"path": "/batch/"}]}, "requests", RECURSIVE),
        ({"requests": [{"path": "/batch?x=1"}]}, "requests", RECURSIVE),
        # Kinto reads the shape of every request before counting them.
        ({"requests": [{"path": "/"}] * 25 + [{}]}, "requests.25.path", "Required"),
        pytest.param(
            {"requests": [{"path": "/%62atch", "method": "POST", "body": {"requests": []}}]},
            "requests",
            RECURSIVE,
            marks=pytest.mark.clone_only,  # Kinto 26.5.0 runs the escaped nested batch.
            id="escaped-batch-path",
        ),
    ],
)
def test_malformed_batches_are_refused(
    app: webtest.TestApp, payload: dict[str, Any], name: str, description: str | None
) -> None:
    if description == METHOD_ERROR:
        description = METHOD_ERROR.format(payload["requests"][0]["method"])
    detail = assert_invalid(post_batch(app, payload, status=400))
    assert (detail["location"], detail["name"]) == ("body", name)
    if description is not None:
        assert detail["description"] == description


def test_unknown_top_level_keys_are_refused(app: webtest.TestApp) -> None:
    detail = assert_invalid(post_batch(app, {"requests": [], "foo": 1}, status=400))
    assert detail["location"] == "body"
    assert "Unrecognized" in detail["description"]


def test_a_body_that_is_not_json_is_refused(app: webtest.TestApp) -> None:
    headers = {**ALICE, "Content-Type": "application/json"}
    response = app.post(BATCH, "{not json", headers=headers, status=400)
    detail = assert_invalid(response)
    assert detail["location"] == "body"
    assert detail["description"].startswith("Invalid JSON")


@pytest.mark.clone_only  # Kinto 26.5.0 answers 500.
def test_a_body_that_is_not_an_object_is_refused(app: webtest.TestApp) -> None:
    detail = assert_invalid(post_batch(app, [], status=400))
    assert detail["name"] == ""
    assert detail["description"] == (
        '"[]" is not a mapping type: Does not implement dict-like functionality.'
    )


def test_a_malformed_batch_runs_nothing(app: webtest.TestApp) -> None:
    """Validation comes first: the write before the bad request is not made."""
    requests = [{"method": "PUT", "path": "/buckets/x"}, {"path": "/", "method": "FOO"}]
    detail = assert_invalid(post_batch(app, {"requests": requests}, status=400))
    assert detail["name"] == "requests.1.method"
    assert bucket_ids(app) == []


@pytest.mark.clone_only  # Kinto 26.5.0 runs a nested batch whose path is escaped.
@pytest.mark.parametrize("path", ["/%62atch", "/v1/%62atch/"])
def test_an_escaped_nested_batch_runs_nothing(app: webtest.TestApp, path: str) -> None:
    """Recognised by its route, including after the trailing-slash redirection."""
    nested = {"requests": [{"method": "PUT", "path": "/buckets/inner"}]}
    requests = [
        {"method": "PUT", "path": "/buckets/outer"},
        {"method": "POST", "path": path, "body": nested},
    ]
    response = post_batch(app, {"requests": requests}, status=400)
    assert assert_invalid(response)["description"] == RECURSIVE
    assert bucket_ids(app) == []


# --- Failing sub-requests -----------------------------------------------------------


def test_client_errors_are_reported_and_the_rest_is_kept(tree: webtest.TestApp) -> None:
    responses = run_batch(
        tree,
        [
            {"method": "PUT", "path": f"{RECORDS}/first", "body": {"data": {"n": 1}}},
            {"path": f"{RECORDS}/unknown"},
            {"method": "PUT", "path": f"{RECORDS}/r", "headers": {"If-None-Match": "*"}},
            {"method": "PUT", "path": f"{RECORDS}/bad@id", "body": {"data": {}}},
            {"method": "PATCH", "path": f"{RECORDS}/r", "headers": BOB, "body": {"data": {}}},
            {"method": "PUT", "path": f"{RECORDS}/bad-data", "body": {"data": 5}},
            {"method": "PATCH", "path": f"{RECORDS}/r", "body": {"data": {"x": 2}}},
        ],
    )
    assert statuses(responses) == [201, 404, 412, 400, 403, 400, 200]
    assert [response["body"]["errno"] for response in responses[1:6]] == [110, 114, 107, 121, 107]
    assert responses[2]["body"]["details"]["existing"]["id"] == "r"
    assert tree.get(f"{RECORDS}/first", headers=ALICE).json["data"]["n"] == 1
    assert tree.get(f"{RECORDS}/r", headers=ALICE).json["data"]["x"] == 2
    tree.get(f"{RECORDS}/bad-data", headers=ALICE, status=404)


def fail_on_marked_objects(create: Callable[..., Any], error: Exception) -> Callable[..., Any]:
    """``storage.create``, raising ``error`` for objects marked ``"fail": true``.

    Nothing in normal use makes one sub-request fail this way: it stands for a
    constraint violated by a concurrent writer (409) or a backend failure
    (5xx) in the middle of a batch.
    """

    def wrapper(
        resource_name: str, parent_id: str, obj: dict[str, Any], *args: Any, **kw: Any
    ) -> Any:
        if obj.get("fail") is True:
            raise error
        return create(resource_name, parent_id, obj, *args, **kw)

    return wrapper


WRITES_AROUND_A_FAILURE: list[Spec] = [
    {"method": "PUT", "path": f"{RECORDS}/before", "body": {"data": {"n": 1}}},
    {"method": "PATCH", "path": f"{RECORDS}/r", "body": {"data": {"x": 2}}},
    {"method": "PUT", "path": "/buckets/b/groups/friends", "body": {"data": {"members": ["bob"]}}},
    {"method": "GET", "path": f"{RECORDS}/unknown"},
]


def assert_batch_fails_without_trace(
    app: webtest.TestApp, failing: Spec, status: int, errno: int
) -> None:
    """The batch answers the failing sub-request's error, and the writes before
    and after it in the batch are all undone."""
    before = snapshot(app)
    after = {"method": "PUT", "path": "/buckets/after"}
    payload = {"requests": [*WRITES_AROUND_A_FAILURE, failing, after]}
    response = post_batch(app, payload, status=status)
    assert (response.json["code"], response.json["errno"]) == (status, errno)
    assert snapshot(app) == before
    app.get(f"{B}/groups/friends", headers=ALICE, status=404)
    assert bucket_ids(app) == ["b"]


@pytest.mark.clone_only  # Kinto: 200 with the 409 in its slot; writes kept before a 5xx.
@pytest.mark.parametrize(
    ("error", "status", "errno"),
    [
        (IntegrityError("duplicate key value violates unique constraint"), 409, 122),
        (BackendError(message="connection lost"), 503, 201),
        (RuntimeError("bug"), 500, 999),
    ],
    ids=["conflict", "backend-error", "bug"],
)
def test_a_conflict_or_server_error_fails_the_whole_batch(
    tree: webtest.TestApp,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    errno: int,
) -> None:
    storage = tree.app.registry.storage
    monkeypatch.setattr(storage, "create", fail_on_marked_objects(storage.create, error))
    failing = {"method": "PUT", "path": f"{RECORDS}/failing", "body": {"data": {"fail": True}}}
    assert_batch_fails_without_trace(tree, failing, status, errno)


@pytest.mark.clone_only  # Kinto 26.5.0's memory backend keeps the writes.
def test_a_failing_subscriber_fails_the_whole_batch(make_app: MakeApp) -> None:
    """``ResourceChanged`` subscribers run once, at the end of the batch, in its
    transaction: their failure undoes every sub-request."""
    app = make_app(**{"kinto.includes": "tests.functional.exploding_plugin"})
    app.put_json(B, {}, headers=ALICE)
    app.put_json(f"{B}/collections/c", {}, headers=ALICE)
    app.put_json(f"{RECORDS}/r", {"data": {"x": 1}}, headers=ALICE)
    explode = {"method": "POST", "path": SHORT_RECORDS, "body": {"data": {"explode": True}}}
    assert_batch_fails_without_trace(app, explode, 500, 999)


# --- Authentication and permissions -------------------------------------------------


def test_subrequests_act_as_the_batch_user_unless_they_say_otherwise(
    tree: webtest.TestApp,
) -> None:
    responses = run_batch(
        tree,
        [
            {"method": "PUT", "path": "/buckets/alices"},
            {"method": "PUT", "path": "/buckets/bobs", "headers": BOB},
            {"path": f"{RECORDS}/r", "headers": BOB},
            {"path": f"{RECORDS}/r"},
        ],
    )
    assert statuses(responses) == [201, 201, 403, 200]
    assert responses[0]["body"]["permissions"] == {"write": [principal("alice")]}
    assert responses[1]["body"]["permissions"] == {"write": [principal("bob")]}
    assert responses[2]["body"]["errno"] == 121
    tree.get("/v1/buckets/bobs", headers=BOB, status=200)
    tree.get("/v1/buckets/bobs", headers=ALICE, status=403)


def test_an_anonymous_batch_gets_401_in_each_slot(tree: webtest.TestApp) -> None:
    responses = run_batch(
        tree,
        [
            {"method": "PUT", "path": "/buckets/anonymous"},
            {"path": f"{RECORDS}/r"},
            {"path": f"{RECORDS}/r", "headers": ALICE},
        ],
        headers={},
    )
    assert statuses(responses) == [401, 401, 200]
    assert responses[0]["body"]["errno"] == 104
    assert responses[0]["headers"]["WWW-Authenticate"].startswith("Basic")
    assert bucket_ids(tree) == ["b"]


def test_permissions_granted_earlier_in_the_batch_apply(tree: webtest.TestApp) -> None:
    """Sub-requests run one after the other, each seeing what the previous wrote."""
    share = {"permissions": {"read": [principal("bob")]}}
    responses = run_batch(
        tree,
        [
            {"path": f"{RECORDS}/r", "headers": BOB},
            {"method": "PATCH", "path": f"{RECORDS}/r", "body": share},
            {"path": f"{RECORDS}/r", "headers": BOB},
        ],
    )
    assert statuses(responses) == [403, 200, 200]


# --- Methods and paths --------------------------------------------------------------


def test_every_method(tree: webtest.TestApp) -> None:
    responses = run_batch(
        tree,
        [
            {"method": "POST", "path": SHORT_RECORDS, "body": {"data": {"id": "p", "v": 1}}},
            {"method": "PUT", "path": f"{SHORT_RECORDS}/u", "body": {"data": {"v": 1}}},
            {"method": "PATCH", "path": f"{SHORT_RECORDS}/u", "body": {"data": {"w": 2}}},
            {"method": "DELETE", "path": f"{SHORT_RECORDS}/r"},
            {"method": "HEAD", "path": SHORT_RECORDS},
            {"method": "GET", "path": SHORT_RECORDS},
            {"method": "TRACE", "path": "/buckets/b"},
        ],
    )
    assert statuses(responses) == [201, 201, 200, 200, 200, 200, 405]
    assert responses[2]["body"]["data"] | {"last_modified": 0} == {
        "id": "u",
        "v": 1,
        "w": 2,
        "last_modified": 0,
    }
    assert responses[3]["body"]["data"]["deleted"] is True
    assert responses[4]["body"] == ""
    assert responses[4]["headers"]["Total-Objects"] == "2"
    assert sorted(record["id"] for record in responses[5]["body"]["data"]) == ["p", "u"]
    assert responses[6]["body"]["errno"] == 115
    listed = tree.get(RECORDS, headers=ALICE)
    assert responses[5]["body"] == listed.json
    assert responses[5]["headers"]["ETag"] == listed.headers["ETag"]


def test_a_trailing_slash_is_followed(tree: webtest.TestApp) -> None:
    responses = run_batch(tree, [{"path": "/buckets/"}, {"path": f"{SHORT_RECORDS}/"}])
    assert statuses(responses) == [200, 200]
    assert [response["path"] for response in responses] == ["/v1/buckets", RECORDS]
    assert [record["id"] for record in responses[1]["body"]["data"]] == ["r"]


def test_the_default_bucket(app: webtest.TestApp) -> None:
    tasks = "/buckets/default/collections/tasks/records"
    responses = run_batch(
        app,
        [
            {"method": "POST", "path": tasks, "body": {"data": {"title": "one"}}},
            {"method": "PUT", "path": f"{tasks}/two", "body": {"data": {"title": "two"}}},
            {"method": "GET", "path": tasks},
            {"method": "GET", "path": tasks, "headers": BOB},
        ],
    )
    assert statuses(responses) == [201, 201, 200, 200]
    assert responses[2]["path"] == f"/v1{tasks}"
    titles = sorted(record["title"] for record in responses[2]["body"]["data"])
    assert titles == ["one", "two"]
    assert responses[3]["body"]["data"] == []
    real = f"/v1/buckets/{default_bucket_id('alice')}/collections/tasks/records"
    assert app.get(real, headers=ALICE).json == responses[2]["body"]


def test_query_strings(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    run_batch(app, [{"method": "PUT", "path": f"{RECORDS}/{rid}"} for rid in ("a", "b")])
    etag = app.get(RECORDS, headers=ALICE).headers["ETag"].strip('"')
    responses = run_batch(
        app,
        [
            {"method": "PUT", "path": f"{RECORDS}/c"},
            {"method": "DELETE", "path": f"{RECORDS}/a"},
            {"path": f"{SHORT_RECORDS}?_limit=1&_sort=id"},
            {"path": f"{SHORT_RECORDS}?_since={etag}&_sort=id"},
        ],
    )
    paged, changes = responses[2], responses[3]
    assert paged["path"] == changes["path"] == RECORDS
    assert [record["id"] for record in paged["body"]["data"]] == ["b"]
    assert "_limit=1" in paged["headers"]["Next-Page"]
    assert [(obj["id"], obj.get("deleted", False)) for obj in changes["body"]["data"]] == [
        ("a", True),
        ("c", False),
    ]


def test_creations_get_unique_increasing_timestamps(empty_collection: webtest.TestApp) -> None:
    """Sync clients poll with ``_since``: two records created by one batch must
    not share a timestamp, nor be stamped out of order."""
    app = empty_collection
    responses = run_batch(
        app, [{"method": "POST", "path": SHORT_RECORDS, "body": {"data": {}}}] * 20
    )
    assert statuses(responses) == [201] * 20
    stamps = [response["body"]["data"]["last_modified"] for response in responses]
    assert stamps == sorted(set(stamps))
    listed = app.get(f"{RECORDS}?_sort=last_modified", headers=ALICE)
    assert [record["id"] for record in listed.json["data"]] == [
        response["body"]["data"]["id"] for response in responses
    ]
    assert listed.headers["ETag"] == f'"{stamps[-1]}"'
