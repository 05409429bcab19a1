"""Input no backend can take gets Kinto's 4xx (or its success), never a 5xx.

Each test stands for a class of requests: paths that are not UTF-8, NUL
characters, credentials, ids of the wrong type, client timestamps; the last
test sends one of each class (list queries included) to a real server.
List queries: :mod:`tests.functional.test_hostile_queries`.  Issue 14.
"""

from __future__ import annotations

import base64
import json
import socket

import pytest
import webtest

from tests.backends import AppBackend
from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE
from tests.functional.test_hostile_queries import HUGE, many
from tests.server import StartServer

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


@pytest.mark.parametrize(
    "path", ["/v1/__heartbeat__?x=%FF", "/v1/buckets/b?%C0%AF=1", f"{RECORDS}?_limit=%ED%A0%80"]
)
def test_a_querystring_that_is_not_utf8_is_a_400_on_any_endpoint(
    app: webtest.TestApp, path: str
) -> None:
    querystring = path.partition("?")[2]
    for headers in (ALICE, {}):  # before authentication
        response = app.get(path, headers=headers, status=400)
        assert response.json == {
            "code": 400,
            "errno": 107,
            "error": "Bad Request",
            "message": "A request with an incorrect encoding in the querystring was"
            f"received. Please make sure your requests are encoded in UTF-8: {querystring}",
        }


@pytest.mark.clone_only  # Kinto 26.5.0 fails the whole batch with a 500.
def test_a_batch_subrequest_path_that_is_not_utf8_is_a_400_in_its_slot(
    app: webtest.TestApp,
) -> None:
    requests = [
        {"method": "PUT", "path": "/buckets/b"},
        {"path": "/buckets/%FF"},
        {"path": "/batch%C0%AF"},
        {"path": "/buckets/b?x=%FF"},
    ]
    response = app.post_json("/v1/batch", {"requests": requests}, headers=ALICE)
    first, second, third, fourth = response.json["responses"]
    assert first["status"] == 201
    assert second == {**second, "status": 400, "path": "/v1/buckets/%FF", "body": INVALID_PATH}
    assert third["status"] == 400
    assert third["path"] == "/v1/batch%C0%AF"
    assert (fourth["status"], fourth["body"]["errno"]) == (400, 107)
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


# --- Ids that are not strings ------------------------------------------------------

INVALID_ID = {
    "code": 400,
    "errno": 107,
    "error": "Invalid parameters",
    "message": "path: Invalid object id",
    "details": [{"location": "path", "name": None, "description": "Invalid object id"}],
}
PLURALS = {
    "/v1/buckets": {},
    "/v1/buckets/b/collections": {},
    "/v1/buckets/b/groups": {"members": []},
    RECORDS: {},
}


@pytest.mark.parametrize(
    "object_id", [None, 1, 0, 1.5, True, False, [], {}, ["a"], "", " ", "a b", "-a", "a" * 256]
)
def test_an_id_that_is_not_a_valid_string_is_a_400(
    empty_collection: webtest.TestApp, object_id: object
) -> None:
    app = empty_collection
    for url, data in PLURALS.items():
        body = {"data": {**data, "id": object_id}}
        response = app.post_json(url, body, headers=ALICE, expect_errors=True)
        assert response.status_int == 400, url
        assert response.json == INVALID_ID
    assert app.get(RECORDS, headers=ALICE).json["data"] == []


@pytest.mark.parametrize("object_id", [None, 1, True, [], {}, "", "a" * 10000])
def test_an_account_id_that_is_not_a_valid_string_is_a_400(
    make_app: MakeApp, object_id: object
) -> None:
    app = make_app(**ACCOUNTS)
    body = {"data": {"id": object_id, "password": "secret"}}
    response = app.post_json("/v1/accounts", body, expect_errors=True)
    assert response.status_int == 400
    assert response.json["errno"] == 107


@pytest.mark.clone_only  # Kinto 26.5.0 takes any length (PostgreSQL then answers 503).
def test_ids_have_at_most_255_characters(empty_collection: webtest.TestApp) -> None:
    app = empty_collection
    longest, too_long = "a" * 255, "a" * 256
    for url, data in PLURALS.items():
        app.post_json(url, {"data": {**data, "id": longest}}, headers=ALICE, status=201)
        app.put_json(f"{url}/{too_long}", {"data": data}, headers=ALICE, status=400)
    app.get(f"{RECORDS}/{longest}", headers=ALICE, status=200)
    app.get(f"{RECORDS}/{too_long}", headers=ALICE, status=400)


# --- Credentials -------------------------------------------------------------------


@pytest.mark.parametrize(
    "credentials", [b"al\xffice:secret", b"alice:s\xe9cret", b"\xed\xa0\x80:x"]
)
def test_credentials_that_are_not_utf8_are_read_as_latin1_like_kinto(
    app: webtest.TestApp, credentials: bytes
) -> None:
    """Kinto (Pyramid's parser) reads them as Latin-1: same header, same user id."""
    header = {"Authorization": "Basic " + base64.b64encode(credentials).decode()}
    user = app.get("/v1/", headers=header).json["user"]["id"]
    same = credentials.decode("latin-1").encode("utf-8")
    utf8_header = {"Authorization": "Basic " + base64.b64encode(same).decode()}
    assert app.get("/v1/", headers=utf8_header).json["user"]["id"] == user


@pytest.mark.parametrize(
    "authorization", ["Basic \xff\xfe", "Basic ====", "Basic", "Bearer \xff", "\xff", "Basic Og=="]
)
def test_malformed_credentials_are_anonymous(app: webtest.TestApp, authorization: str) -> None:
    response = app.get("/v1/", headers={"Authorization": authorization})
    assert "user" not in response.json
    app.get(RECORDS, headers={"Authorization": authorization}, status=401)


# --- Client timestamps -------------------------------------------------------------

LATEST = 10**14  # year 5138


@pytest.mark.clone_only  # Kinto 26.5.0 keeps them, then answers 500 on every later write.
@pytest.mark.parametrize("timestamp", [LATEST + 1, 253402300799999, 2**63 - 1, 2**63, 2**70])
def test_a_client_timestamp_too_far_in_the_future_is_ignored(
    record: webtest.TestApp, timestamp: int
) -> None:
    response = record.put_json(
        f"{RECORDS}/r", {"data": {"last_modified": timestamp}}, headers=ALICE
    )
    assert response.json["data"]["last_modified"] < LATEST
    record.put_json(f"{RECORDS}/r", {"data": {"n": 6}}, headers=ALICE, status=200)
    record.post_json(RECORDS, {"data": {"last_modified": timestamp}}, headers=ALICE, status=201)
    url = f"{RECORDS}/r?last_modified={timestamp}"
    assert record.delete(url, headers=ALICE, expect_errors=True).status_int == 400


@pytest.mark.parametrize("timestamp", [-1, 1.5, "abc", True, None, [], 1e20])
def test_a_client_timestamp_that_is_not_one_is_ignored(
    record: webtest.TestApp, timestamp: object
) -> None:
    response = record.put_json(
        f"{RECORDS}/r", {"data": {"last_modified": timestamp}}, headers=ALICE
    )
    assert isinstance(response.json["data"]["last_modified"], int)


def test_a_client_timestamp_up_to_the_bound_is_kept(record: webtest.TestApp) -> None:
    response = record.put_json(f"{RECORDS}/r", {"data": {"last_modified": LATEST}}, headers=ALICE)
    assert response.json["data"]["last_modified"] == LATEST
    response = record.post_json(RECORDS, {"data": {}}, headers=ALICE)
    assert response.json["data"]["last_modified"] > LATEST
    assert "GMT" in response.headers["Last-Modified"]


# --- Over HTTP, through waitress --------------------------------------------------


def raw_request(url: str, request_line: bytes, headers: bytes = b"", body: bytes = b"") -> tuple:
    """``(status, JSON body)`` of bytes sent as they are (clients would escape them)."""
    host, port = url.removeprefix("http://").split(":")
    head = request_line + b"\r\nHost: x\r\nConnection: close\r\n" + headers
    head += b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(payload)


def test_hostile_requests_to_a_real_server_get_4xx(
    app_backend: AppBackend, start_server: StartServer
) -> None:
    """One request of each class, through waitress, on each backend."""
    server = start_server(app_backend.settings)
    auth = b"Authorization: Basic " + base64.b64encode(b"alice:secret") + b"\r\n"
    json_auth = auth + b"Content-Type: application/json\r\n"

    def send(line: bytes, headers: bytes = auth, body: bytes = b"") -> tuple:
        return raw_request(server.url, line, headers, body)

    assert send(b"PUT /v1/buckets/b HTTP/1.1")[0] == 201
    assert send(b"PUT /v1/buckets/b/collections/c HTTP/1.1")[0] == 201
    for path in (b"/v1/buckets/%FF", b"/v1/%C0%AF", b"/v1/batch%FF", b"/v1/buckets/b%00"):
        assert send(b"GET " + path + b" HTTP/1.1") == (400, INVALID_PATH)
    batch = b'{"requests": [{"path": "/buckets/%ED%A0%80"}]}'
    status, body = send(b"POST /v1/batch HTTP/1.1", json_auth, batch)
    assert (status, body["responses"][0]["body"]) == (200, INVALID_PATH)
    records = RECORDS.encode()
    for query in (b"n=1e999", b"n=" + HUGE.encode(), b"in_n=1e999,9223372036854775808"):
        assert send(b"GET " + records + b"?" + query + b" HTTP/1.1") == (200, {"data": []})
    too_many = many("f{i}=1", 101).encode()
    assert send(b"GET " + records + b"?" + too_many + b" HTTP/1.1")[0] == 400
    deep = b"gt_a" + b".a" * 199 + b"=1"
    assert send(b"DELETE " + records + b"?" + deep + b" HTTP/1.1")[0] == 400
    status, body = send(b"POST " + records + b" HTTP/1.1", json_auth, b'{"data": {"id": null}}')
    assert (status, body) == (400, INVALID_ID)
    nul_user = b"Authorization: Basic " + base64.b64encode(b"al\x00ice:x") + b"\r\n"
    assert send(b"GET /v1/ HTTP/1.1", nul_user)[0] == 200
