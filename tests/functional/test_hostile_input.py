"""Input no backend can take gets Kinto's 4xx (or its success), never a 5xx.

Each test stands for a class of requests: paths that are not UTF-8, numbers no
database holds, query shapes too big for a SQL compiler, NUL characters, ids
of the wrong type.  Issue 14.
"""

from __future__ import annotations

import base64

import pytest
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE

RECORDS = "/v1/buckets/b/collections/c/records"
JSON_ALICE = {**ALICE, "Content-Type": "application/json"}
INVALID_PATH = {"code": 400, "errno": 107, "error": "Bad Request", "message": "Invalid URL path."}


@pytest.fixture
def record(empty_collection: webtest.TestApp) -> webtest.TestApp:
    empty_collection.put_json(f"{RECORDS}/r", {"data": {"n": 5}}, headers=ALICE)
    return empty_collection


# --- Paths that are not UTF-8 ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/buckets/%FF",
        "/v1/buckets/%C0%AF",
        "/v1/buckets/%ED%A0%80",
        "/v1/%FF",
        "/v1/batch%FF",
        "/%FF",
        "/v1/buckets/%FF/collections/c/records?_limit=x",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_a_path_that_is_not_utf8_is_a_400(app: webtest.TestApp, path: str, method: str) -> None:
    for headers in (ALICE, {}):  # before authentication
        response = app.request(path, method=method, headers=headers, expect_errors=True)
        assert response.status_int == 400
        assert response.json == INVALID_PATH
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.clone_only  # Kinto 26.5.0 fails the whole batch with a 500.
def test_a_batch_subrequest_path_that_is_not_utf8_is_a_400_in_its_slot(
    app: webtest.TestApp,
) -> None:
    requests = [
        {"method": "PUT", "path": "/buckets/b"},
        {"path": "/buckets/%FF"},
        {"path": "/batch%C0%AF"},
    ]
    response = app.post_json("/v1/batch", {"requests": requests}, headers=ALICE)
    first, second, third = response.json["responses"]
    assert first["status"] == 201
    assert second == {**second, "status": 400, "path": "/v1/buckets/%FF", "body": INVALID_PATH}
    assert third["status"] == 400
    assert third["path"] == "/v1/batch%C0%AF"
    app.get("/v1/buckets/b", headers=ALICE, status=200)


@pytest.mark.clone_only  # Kinto 26.5.0 answers 500.
def test_a_batch_subrequest_path_may_hold_any_character(app: webtest.TestApp) -> None:
    """Characters a request line cannot hold are sent percent-encoded as UTF-8."""
    requests = [
        {"method": "PUT", "path": "/buckets/é"},
        {"path": "/buckets/a b"},
        {"path": "/buckets/b%00"},
    ]
    response = app.post_json("/v1/batch", {"requests": requests}, headers=ALICE)
    statuses = [(r["path"], r["status"]) for r in response.json["responses"]]
    assert statuses == [
        ("/v1/buckets/é", 400),
        ("/v1/buckets/a b", 403),
        ("/v1/buckets/b\x00", 400),
    ]


# --- NUL characters ------------------------------------------------------------------

ACCOUNTS = {
    "kinto.includes": "kinto.plugins.accounts",
    "multiauth.policies": "account basicauth",
    "multiauth.policy.account.use": "kinto.plugins.accounts.AccountsPolicy",
    "kinto.account_create_principals": "system.Everyone",
    "kinto.account_bcrypt_rounds": "4",
}


@pytest.mark.clone_only  # Kinto answers 403 or 400 "Invalid object id" (500 on PostgreSQL).
@pytest.mark.parametrize(
    "path",
    [
        "/v1/buckets/b%00",
        "/v1/buckets/b%00/collections/c",
        "/v1/buckets/b/groups/g%00",
        f"{RECORDS}/r%00",
        f"{RECORDS}%00",
        "/v1/accounts/a%00",
    ],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_nul_character_in_a_path_is_a_400(make_app: MakeApp, path: str, method: str) -> None:
    app = make_app(**ACCOUNTS)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    response = app.request(path, method=method, body=b"{}", headers=JSON_ALICE, expect_errors=True)
    assert response.status_int == 400
    assert response.json == INVALID_PATH


def test_a_nul_character_in_a_user_name_is_not_an_account(make_app: MakeApp) -> None:
    app = make_app(**ACCOUNTS)
    credentials = base64.b64encode(b"al\x00ice:secret").decode()
    response = app.get("/v1/", headers={"Authorization": f"Basic {credentials}"})
    # Not an account: the next policy (basicauth) takes the credentials.
    assert response.json["user"]["id"].startswith("basicauth:")
