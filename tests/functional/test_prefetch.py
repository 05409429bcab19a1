"""Prefetched reads answer exactly what separate reads answer.

:mod:`kinto_clone.core.prefetch` reads a request's principals, permissions,
parents and object or page in one statement.  Each request here is sent twice,
with the prefetcher and without it (every backend call reading on its own), and
the two answers must be identical: status, body and the headers clients use.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator

import pytest
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE, BOB

pytestmark = pytest.mark.clone_only

RECORDS = "/v1/buckets/b/collections/c/records"
COMPARED_HEADERS = ("ETag", "Last-Modified", "Next-Page", "Cache-Control")

BACKENDS = pytest.mark.parametrize(
    "app_backend",
    [pytest.param("postgresql", marks=pytest.mark.postgresql), "sqlite"],
    indirect=True,
)


@pytest.fixture
def app(make_app: MakeApp, app_backend: object) -> Iterator[webtest.TestApp]:
    """Alice's bucket ``b`` and collection ``c``: 30 records, among them
    tombstones and live records holding a ``deleted`` field of their own."""
    app = make_app()
    assert app.app.registry.prefetcher is not None
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    for n in range(30):
        data = {"n": n % 7, "title": f"t{n}", "tags": ["x"] if n % 2 else []}
        if n % 5 == 0:
            data["deleted"] = True
        app.put_json(f"{RECORDS}/r{n:02}", {"data": data}, headers=ALICE)
    for n in range(0, 30, 4):
        app.delete(f"{RECORDS}/r{n:02}", headers=ALICE)
    app.put_json(
        f"{RECORDS}/r01",
        {"data": {"n": 1}, "permissions": {"read": ["system.Authenticated"]}},
        headers=ALICE,
    )
    yield app


def _without_nonce(next_page: str | None) -> str | None:
    """The Next-Page URL with its token decoded, less its random nonce."""
    if next_page is None:
        return None
    url, _, token = next_page.partition("&_token=")
    decoded = json.loads(base64.urlsafe_b64decode(urllib.parse.unquote(token)))
    decoded.pop("nonce")
    return f"{url} {json.dumps(decoded, sort_keys=True)}"


def _answer(app: webtest.TestApp, path: str, headers: dict[str, str]) -> tuple:
    response = app.get(path, headers=headers, status="*")
    kept = {name: response.headers.get(name) for name in COMPARED_HEADERS}
    kept["Next-Page"] = _without_nonce(kept["Next-Page"])
    return response.status_int, response.body, kept


def _both(app: webtest.TestApp, path: str, headers: dict[str, str]) -> tuple[tuple, tuple]:
    registry = app.app.registry
    prefetched = _answer(app, path, headers)
    prefetcher, registry.prefetcher = registry.prefetcher, None
    try:
        separate = _answer(app, path, headers)
    finally:
        registry.prefetcher = prefetcher
    return prefetched, separate


LIST_QUERIES = [
    "",
    "?_limit=5",
    "?_sort=-n,title&_limit=4",
    "?_sort=deleted&_limit=6",
    "?n=1",
    "?has_deleted=true",
    "?in_n=1,2,3&_sort=title",
    "?_since=0",
    "?_since=0&_sort=last_modified&_limit=3",
    "?_before=99999999999999",
    "?deleted=true",
    "?_fields=title&_limit=3",
    "?contains_tags=x",
    "?_limit=0",
    "?_sort=nope&_limit=2",
    "?n=bad-filter&_limit=abc",
]

OTHER_READS = [
    f"{RECORDS}/r01",
    f"{RECORDS}/r02",
    f"{RECORDS}/r04",  # a tombstone
    f"{RECORDS}/missing",
    "/v1/buckets/b/collections/c",
    "/v1/buckets/b/collections/missing/records/r01",
    "/v1/buckets/missing/collections/c/records",
    "/v1/buckets/b",
    "/v1/buckets",
    "/v1/buckets/b/collections",
]


@BACKENDS
@pytest.mark.parametrize("path", [RECORDS + query for query in LIST_QUERIES] + OTHER_READS)
def test_reads_match(app: webtest.TestApp, path: str) -> None:
    for headers in (ALICE, BOB, {}):
        prefetched, separate = _both(app, path, headers)
        assert prefetched == separate


@BACKENDS
def test_every_page_matches(app: webtest.TestApp) -> None:
    """Following Next-Page links, with tokens, gives the same pages."""
    path = RECORDS + "?_sort=-n&_limit=4&_since=0"
    pages = 0
    while path:
        prefetched, separate = _both(app, path, ALICE)
        assert prefetched == separate
        response = app.get(path, headers=ALICE)
        path = response.headers.get("Next-Page", "").replace("http://localhost", "")
        pages += 1
    assert pages > 3


@BACKENDS
def test_batch_reads_its_own_writes(app: webtest.TestApp) -> None:
    """A list or record read after a write of the same batch shows the write."""
    requests = [
        {"method": "GET", "path": f"{RECORDS.removeprefix('/v1')}?_limit=100"},
        {"method": "GET", "path": f"{RECORDS.removeprefix('/v1')}/r03"},
        {"method": "PUT", "path": f"{RECORDS.removeprefix('/v1')}/fresh", "body": {"data": {}}},
        {
            "method": "PATCH",
            "path": f"{RECORDS.removeprefix('/v1')}/r03",
            "body": {"data": {"n": 99}},
        },
        {"method": "GET", "path": f"{RECORDS.removeprefix('/v1')}?_limit=100"},
        {"method": "GET", "path": f"{RECORDS.removeprefix('/v1')}/r03"},
    ]
    responses = app.post_json("/v1/batch", {"requests": requests}, headers=ALICE).json["responses"]
    before, old, _, _, after, new = (response["body"] for response in responses)
    assert "fresh" not in {record["id"] for record in before["data"]}
    assert "fresh" in {record["id"] for record in after["data"]}
    assert old["data"]["n"] != 99
    assert new["data"]["n"] == 99
