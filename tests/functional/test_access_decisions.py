"""401, 403 or 404: what a caller learns about objects they may not see.

Alice owns bucket ``b`` (collection ``c``, record ``r``, group ``g``); Bob may
read the bucket; Mary may only create collections in it (which lets her read
the bucket's attributes, not its content); Eve has no permission at all.

* Anonymous callers without access get 401 and a ``WWW-Authenticate`` challenge.
* Authenticated callers without access get 403 (errno 121).
* Callers who may read the parent get 404: errno 110 for an unknown object,
  errno 111 naming the unknown parent (``details: {id, resource_name}``).
* Callers who may not read the bucket get 403 for anything below it, whether
  it exists or not (Kinto 26.5.0 answers 404 to writes into an unknown parent,
  revealing which collections exist: this server does not).
"""

from __future__ import annotations

import pytest
import webtest

from tests.functional.helpers import ALICE, ANONYMOUS, BOB, MARY, auth, principal, send

EVE = auth("eve")
B = "/v1/buckets/b"
UNKNOWN_COLLECTION = {"id": "unknown", "resource_name": "collection"}
UNKNOWN_RECORD = {"id": "unknown", "resource_name": "record"}


@pytest.fixture
def shared(tree: webtest.TestApp) -> webtest.TestApp:
    tree.patch_json(
        B,
        {"permissions": {"read": [principal("bob")], "collection:create": [principal("mary")]}},
        headers=ALICE,
    )
    return tree


def call(
    app: webtest.TestApp, method: str, path: str, headers: dict[str, str]
) -> webtest.TestResponse:
    """Send ``method`` with a minimal valid body, whatever the status."""
    body = None
    if method in ("PUT", "PATCH", "POST"):
        body = {"data": {"a": 1}} if method == "PATCH" else {}
    return send(app, method, path, headers, body)


BUCKET_READER_CASES = [
    ("GET", f"{B}/collections/unknown/records", 404, 111, UNKNOWN_COLLECTION),
    ("GET", f"{B}/collections/unknown/records/x", 404, 111, UNKNOWN_COLLECTION),
    ("PUT", f"{B}/collections/unknown/records/x", 404, 111, UNKNOWN_COLLECTION),
    ("POST", f"{B}/collections/unknown/records", 404, 111, UNKNOWN_COLLECTION),
    ("GET", f"{B}/collections/c/records/unknown", 404, 110, UNKNOWN_RECORD),
    ("DELETE", f"{B}/collections/c/records/unknown", 404, 110, UNKNOWN_RECORD),
    ("PATCH", f"{B}/collections/c/records/unknown", 404, 110, UNKNOWN_RECORD),
    ("GET", f"{B}/collections/unknown", 404, 110, UNKNOWN_COLLECTION),
    ("PATCH", f"{B}/collections/unknown", 404, 110, UNKNOWN_COLLECTION),
    ("DELETE", f"{B}/collections/unknown", 404, 110, UNKNOWN_COLLECTION),
    ("GET", f"{B}/groups/unknown", 404, 110, {"id": "unknown", "resource_name": "group"}),
    ("DELETE", f"{B}/groups/unknown", 404, 110, {"id": "unknown", "resource_name": "group"}),
    # Creating needs the create permission, even for readers.
    ("PUT", f"{B}/collections/c/records/unknown", 403, 121, None),
    ("PUT", f"{B}/collections/unknown", 403, 121, None),
    ("DELETE", f"{B}/collections/c/records", 403, 121, None),
    ("DELETE", f"{B}/collections", 403, 121, None),
    ("PATCH", f"{B}/collections/c/records/r", 403, 121, None),
    ("GET", f"{B}/collections/c/records/r", 200, None, None),
]


@pytest.mark.parametrize(("method", "path", "status", "errno", "details"), BUCKET_READER_CASES)
def test_bucket_reader(
    shared: webtest.TestApp,
    method: str,
    path: str,
    status: int,
    errno: int | None,
    details: dict[str, str] | None,
) -> None:
    response = call(shared, method, path, BOB)
    assert response.status_int == status, response.text
    if errno is not None:
        assert response.json["errno"] == errno
    if details is not None:
        assert response.json["details"] == details


ATTRIBUTES_READER_CASES = [
    ("GET", f"{B}", 200),
    ("GET", f"{B}/collections", 200),
    ("GET", f"{B}/collections/c", 403),
    ("GET", f"{B}/collections/unknown", 403),
    ("PATCH", f"{B}/collections/unknown", 403),
    ("DELETE", f"{B}/collections/unknown", 403),
    ("GET", f"{B}/collections/unknown/records", 403),
    ("GET", f"{B}/collections/unknown/records/x", 403),
    ("GET", f"{B}/collections/c/records/unknown", 403),
    ("DELETE", f"{B}/collections/c/records/unknown", 403),
    ("PATCH", f"{B}/collections/c/records/unknown", 403),
    ("PUT", f"{B}/collections/c/records/unknown", 403),
    ("GET", f"{B}/groups/unknown", 403),
    ("DELETE", f"{B}/groups/unknown", 403),
    ("PUT", f"{B}/collections/mine", 201),
]


@pytest.mark.parametrize(("method", "path", "status"), ATTRIBUTES_READER_CASES)
def test_collection_creator_cannot_probe_the_bucket(
    shared: webtest.TestApp, method: str, path: str, status: int
) -> None:
    response = call(shared, method, path, MARY)
    assert response.status_int == status, response.text
    if status == 403:
        assert response.json["errno"] == 121


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", B),
        ("GET", f"{B}/collections"),
        ("GET", f"{B}/collections/c/records"),
        ("GET", f"{B}/collections/c/records/r"),
        ("PATCH", f"{B}/collections/c"),
        ("DELETE", f"{B}/groups/g"),
        ("PUT", f"{B}/collections/c/records/r"),
    ],
)
def test_anonymous_gets_401_with_a_challenge(
    shared: webtest.TestApp, method: str, path: str
) -> None:
    response = call(shared, method, path, ANONYMOUS)
    assert response.status_int == 401
    assert response.json["errno"] == 104
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_authenticated_stranger_gets_403(shared: webtest.TestApp) -> None:
    response = call(shared, "GET", f"{B}/collections/c/records/r", EVE)
    assert response.status_int == 403
    assert response.json == {
        "code": 403,
        "errno": 121,
        "error": "Forbidden",
        "message": "This user cannot access this resource.",
    }
    assert "WWW-Authenticate" not in response.headers


# That strangers cannot tell existing objects from unknown ones (status, body,
# headers, batches): tests/functional/test_existence_leaks.py.


@pytest.mark.clone_only
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", f"{B}/collections/unknown/records/x"),
        ("POST", f"{B}/collections/unknown/records"),
    ],
)
def test_collection_creator_cannot_probe_collections_by_writing(
    shared: webtest.TestApp, method: str, path: str
) -> None:
    response = call(shared, method, path, MARY)
    assert response.status_int == 403
    assert response.json["errno"] == 121


def test_bucket_writer_gets_404_for_unknown_parents(shared: webtest.TestApp) -> None:
    response = call(shared, "PUT", f"{B}/collections/unknown/records/x", ALICE)
    assert response.status_int == 404
    assert response.json["errno"] == 111
    assert response.json["details"] == UNKNOWN_COLLECTION


def test_unknown_bucket_is_forbidden_even_to_bucket_creators(app: webtest.TestApp) -> None:
    for path in ("/v1/buckets/unknown", "/v1/buckets/unknown/collections/c/records"):
        response = app.get(path, headers=ALICE, status=403)
        assert response.json["errno"] == 121
