"""Callers who may not read a parent learn nothing of what it holds.

For Eve (authenticated, no permission) and anonymous callers, a request on an
object that exists and the same request on an unknown one must get the same
answer: status, body and headers alike (but for :data:`VARYING` headers, which
differ from one answer to the next whatever the object), through every method,
``HEAD`` included, and inside batch sub-requests.  A difference in ``ETag``,
``Last-Modified``, ``Content-Length``, ``Total-Records`` or ``Alert`` would tell
them what exists.
"""

from __future__ import annotations

from typing import Any

import pytest
import webtest

from tests.functional.helpers import ALICE, ANONYMOUS, MARY, auth, principal, send

pytestmark = pytest.mark.clone_only

EVE = auth("eve")
USERS = {"eve": EVE, "anonymous": ANONYMOUS}
B = "/v1/buckets/b"
VARYING = {"date", "x-request-id", "request-id"}

OBJECTS = [
    (B, "/v1/buckets/unknown"),
    (f"{B}/collections/c", f"{B}/collections/unknown"),
    (f"{B}/collections/c", "/v1/buckets/unknown/collections/c"),
    (f"{B}/groups/g", f"{B}/groups/unknown"),
    (f"{B}/collections/c/records/r", f"{B}/collections/c/records/unknown"),
    (f"{B}/collections/c/records/r", f"{B}/collections/unknown/records/r"),
    (f"{B}/collections/c/records/r", "/v1/buckets/unknown/collections/c/records/r"),
]
PLURALS = [
    (f"{B}/collections", "/v1/buckets/unknown/collections"),
    (f"{B}/groups", "/v1/buckets/unknown/groups"),
    (f"{B}/collections/c/records", f"{B}/collections/unknown/records"),
    (f"{B}/collections/c/records", "/v1/buckets/unknown/collections/c/records"),
]
PROBES = [
    (method, existing, unknown)
    for method in ("GET", "HEAD", "PUT", "PATCH", "DELETE")
    for existing, unknown in OBJECTS
    # Every authenticated user may create buckets: a PUT creating one tells
    # nothing of the others.
    if not (method == "PUT" and unknown == "/v1/buckets/unknown")
] + [
    (method, existing, unknown)
    for method in ("GET", "HEAD", "POST", "DELETE")
    for existing, unknown in PLURALS
]


@pytest.fixture
def shared(tree: webtest.TestApp) -> webtest.TestApp:
    """Alice's tree, the bucket readable by Mary's collections only."""
    tree.patch_json(B, {"permissions": {"collection:create": [principal("mary")]}}, headers=ALICE)
    return tree


def body_for(method: str) -> dict[str, Any] | None:
    if method in ("PUT", "POST"):
        return {"data": {"a": 1}}
    if method == "PATCH":
        return {"data": {"a": 2}}
    return None


def call(app: webtest.TestApp, method: str, path: str, headers: dict[str, str]) -> Any:
    return send(app, method, path, headers, body_for(method))


def seen(status: int, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """What a caller sees of an answer, less what varies anyway."""
    kept = {name.lower(): value for name, value in headers.items()}
    return status, {k: v for k, v in kept.items() if k not in VARYING}, body


METHODS = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "POST")


def probes(method: str) -> list[tuple[str, str]]:
    return [(existing, unknown) for m, existing, unknown in PROBES if m == method]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("user", list(USERS))
def test_existing_and_unknown_look_alike(shared: webtest.TestApp, method: str, user: str) -> None:
    headers = USERS[user]
    for existing, unknown in probes(method):
        on_existing = call(shared, method, existing, headers)
        on_unknown = call(shared, method, unknown, headers)
        assert on_existing.status_int == (403 if user == "eve" else 401), existing
        assert seen(on_existing.status_int, on_existing.headers, on_existing.body) == seen(
            on_unknown.status_int, on_unknown.headers, on_unknown.body
        ), (existing, unknown)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("user", list(USERS))
def test_existing_and_unknown_look_alike_in_batches(
    shared: webtest.TestApp, method: str, user: str
) -> None:
    """Sub-requests answer alike too (the batch itself is always a 200)."""
    pairs = probes(method)
    requests = []
    for path in [path for pair in pairs for path in pair]:
        request: dict[str, Any] = {"method": method, "path": path.removeprefix("/v1")}
        if body_for(method) is not None:
            request["body"] = body_for(method)
        requests.append(request)
    batch = shared.post_json("/v1/batch", {"requests": requests}, headers=USERS[user])
    answers = batch.json["responses"]
    for answer in answers:
        answer.pop("path")
        answer["headers"] = {
            k.lower(): v for k, v in answer["headers"].items() if k.lower() not in VARYING
        }
    for (existing, unknown), on_existing, on_unknown in zip(
        pairs, answers[::2], answers[1::2], strict=True
    ):
        assert on_existing["status"] == (403 if user == "eve" else 401), existing
        assert on_existing == on_unknown, (existing, unknown)


def test_collection_creator_cannot_tell_collections_content(shared: webtest.TestApp) -> None:
    """Mary may create collections in the bucket, not read what they hold."""
    record, unknown_record = f"{B}/collections/c/records/r", f"{B}/collections/c/records/unknown"
    records, unknown_records = f"{B}/collections/c/records", f"{B}/collections/unknown/records"
    probes = [(m, record, unknown_record) for m in ("GET", "HEAD", "PATCH", "DELETE")]
    probes += [(m, records, unknown_records) for m in ("GET", "HEAD", "DELETE")]
    for method, existing, unknown in probes:
        on_existing = call(shared, method, existing, MARY)
        on_unknown = call(shared, method, unknown, MARY)
        assert on_existing.status_int == 403
        assert seen(on_existing.status_int, on_existing.headers, on_existing.body) == seen(
            on_unknown.status_int, on_unknown.headers, on_unknown.body
        ), (method, existing)


def test_reader_of_one_collection_learns_nothing_of_the_others(
    shared: webtest.TestApp,
) -> None:
    """Eve may read collection ``open`` only: inside ``c`` and among the
    bucket's other collections, existing and unknown objects look alike."""
    shared.put_json(
        f"{B}/collections/open", {"permissions": {"read": [principal("eve")]}}, headers=ALICE
    )
    shared.get(f"{B}/collections/open/records", headers=EVE, status=200)
    pairs = [
        (f"{B}/collections/c/records/r", f"{B}/collections/c/records/unknown"),
        (f"{B}/collections/c/records", f"{B}/collections/unknown/records"),
        (f"{B}/collections/c", f"{B}/collections/unknown"),
        (f"{B}/groups/g", f"{B}/groups/unknown"),
    ]
    for method in ("GET", "HEAD", "PATCH", "DELETE"):
        for existing, unknown in pairs:
            if method == "PATCH" and existing.endswith("/records"):
                continue  # 405 whoever asks
            on_existing = call(shared, method, existing, EVE)
            on_unknown = call(shared, method, unknown, EVE)
            assert on_existing.status_int == 403, (method, existing)
            assert seen(on_existing.status_int, on_existing.headers, on_existing.body) == seen(
                on_unknown.status_int, on_unknown.headers, on_unknown.body
            ), (method, existing)
