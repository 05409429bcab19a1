"""Input no backend can take gets Kinto's 4xx (or its success), never a 5xx.

Each test stands for a class of requests: paths that are not UTF-8, numbers no
database holds, query shapes too big for a SQL compiler, NUL characters, ids
of the wrong type.  Issue 14.
"""

from __future__ import annotations

import base64
import json
import socket
from urllib.parse import quote

import pytest
import webtest

from tests.backends import AppBackend
from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE
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


# --- Numbers no database holds, in filters ----------------------------------------

HUGE = "9" * 400


@pytest.mark.parametrize(
    "query",
    [
        "n=1e999",
        "lt_n=1e999",
        "gt_n=-1e999",
        "min_n=1e999",
        "max_n=-1e999",
        "in_n=1,1e999",
        "exclude_n=1e999",
        "not_n=1e999",
        "n=NaN",
        "n=-Infinity",
        "n=9223372036854775808",
        "n=-9223372036854775809",
        "gt_n=18446744073709551615",
        "lt_n=18446744073709551616",
        f"n={HUGE}",
        f"lt_n={HUGE}",
        f"in_n=1,-{HUGE}",
        "contains_n=[1e999]",
        "contains_any_n=[18446744073709551616]",
        "n.x=1e999",
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
def test_filters_on_numbers_beyond_any_database_are_served(
    record: webtest.TestApp, query: str, method: str
) -> None:
    response = record.request(f"{RECORDS}?{query}", method=method, headers=ALICE)
    assert response.status_int == 200


def test_numbers_beyond_64_bits_compare_exactly(empty_collection: webtest.TestApp) -> None:
    """Integers of any size compare with the stored ones; what is not a finite
    number (``1e999``, ``NaN``) is a string, as in Kinto.  (SQLite compares
    integers beyond 2**53 as doubles: these ones are exact doubles.)"""
    app = empty_collection
    values = {"u64": 2**64 - 2**11, "big": 2**65, "i64": -(2**63) - 2**11, "huge": int(HUGE)}
    for name, value in {**values, "text": "1e999", "nan": "NaN", "n": 5}.items():
        app.put_json(f"{RECORDS}/{name}", {"data": {"n": value}}, headers=ALICE)

    def ids(query: str) -> list[str]:
        response = app.get(f"{RECORDS}?{query}&_sort=id", headers=ALICE)
        return [r["id"] for r in response.json["data"]]

    assert ids("n=18446744073709549568") == ["u64"]
    assert ids("n=36893488147419103232") == ["big"]
    assert ids("n=-9223372036854777856") == ["i64"]
    assert ids(f"n={HUGE}") == ["huge"]
    assert ids("gt_n=9223372036854775807") == ["big", "huge", "u64"]
    assert ids("n=1e999") == ["text"]
    assert ids("n=NaN") == ["nan"]


# --- Query shapes: bounded, and served linearly within the bounds -----------------


def assert_refused(response: webtest.TestResponse, name: str, words: str) -> None:
    assert response.status_int == 400
    body = response.json
    assert (body["code"], body["errno"], body["error"]) == (400, 107, "Invalid parameters")
    (detail,) = body["details"]
    assert detail["location"] == "querystring"
    assert detail["name"] == name
    assert words in detail["description"]


def many(template: str, count: int) -> str:
    return "&".join(template.format(i=i) for i in range(count))


@pytest.mark.parametrize(
    "query",
    [
        many("f{i}=1", 100),
        many("not_f{i}.a.b.c=[[1]]", 100),
        many("contains_f{i}.a.b=[1,2,3,4,5,6,7,8,9]", 100),
        many("contains_any_f{i}=[1,2,3,4,5,6,7,8,9]", 100),
        "in_a=" + ",".join(map(str, range(1000))),
        "exclude_a=" + ",".join(map(str, range(1000))),
        "contains_a=[" + ",".join(map(str, range(1000))) + "]",
        "contains_any_a=[" + ",".join(f"[{i}]" for i in range(1000)) + "]",
        "in_a=" + ",".join(["null", "true", '"x"', "1", "[1]", '{"a":1}'] * 100),
        "a" + ".a" * 31 + "=1",
        "gt_a" + ".a" * 31 + "=1",
        "_sort=" + "a" + ".a" * 31,
        "_sort=" + ",".join(f"-f{i}.a.b.c" for i in range(20)),
        "a=" + "[" * 32 + "]" * 32,
        "_fields=" + ",".join(f"f{i}" for i in range(10000)),
    ],
)
def test_large_queries_within_the_bounds_are_served(record: webtest.TestApp, query: str) -> None:
    record.get(f"{RECORDS}?{query}", headers=ALICE, status=200)


@pytest.mark.clone_only  # Kinto 26.5.0 has no bounds: 200, 500 or 503 depending on its backend.
@pytest.mark.parametrize(
    ("query", "name", "words"),
    [
        (many("f{i}=1", 101), "f100", "at most 100 filters"),
        (many("f{i}=1", 1000), "f100", "at most 100 filters"),
        ("in_a=" + ",".join(map(str, range(1001))), "in_a", "at most 1000 values"),
        (many("in_f{i}=" + ",".join(["1"] * 20), 51), "in_f50", "at most 1000 values"),
        ("a" + ".a" * 32 + "=1", "a" + ".a" * 32, "at most 32 dotted segments"),
        ("gt_a" + ".a" * 199 + "=1", "gt_a" + ".a" * 199, "at most 32 dotted segments"),
        ("_sort=a" + ".a" * 32, "_sort", "at most 32 dotted segments"),
        ("_sort=" + ",".join(f"f{i}" for i in range(21)), "_sort", "At most 20 fields"),
        ("_sort=" + ",".join(f"f{i}" for i in range(5000)), "_sort", "At most 20 fields"),
        ("a=" + "[" * 33 + "]" * 33, "a", "nested at most 32 levels"),
        ("contains_a=" + "[" * 5000 + "]" * 5000, "contains_a", "nested at most 32 levels"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_queries_beyond_the_bounds_are_a_400_naming_it(
    record: webtest.TestApp, query: str, name: str, words: str, method: str
) -> None:
    response = record.request(
        f"{RECORDS}?{query}", method=method, headers=ALICE, expect_errors=True
    )
    assert_refused(response, name, words)
    assert len(record.get(RECORDS, headers=ALICE).json["data"]) == 1


def test_shallow_one_of_lists_keep_their_meaning(empty_collection: webtest.TestApp) -> None:
    """``in_``/``exclude_`` of every JSON type, absent fields included."""
    app = empty_collection
    values = {"nil": None, "yes": True, "text": "x", "one": 1, "list": [1], "obj": {"a": 1}}
    for name, value in values.items():
        app.put_json(f"{RECORDS}/{name}", {"data": {"v": value}}, headers=ALICE)
    app.put_json(f"{RECORDS}/absent", {"data": {}}, headers=ALICE)

    def ids(query: str) -> list[str]:
        response = app.get(f"{RECORDS}?{query}&_sort=id", headers=ALICE)
        return [r["id"] for r in response.json["data"]]

    everything = 'null,true,"x",1.0,[1],{"a":1}'
    assert ids(f"in_v={everything}") == sorted(values)
    assert ids(f"exclude_v={everything}") == ["absent"]
    assert ids('in_v=false,"1",2,[],{}') == []
    assert ids("exclude_v=1,true") == ["absent", "list", "nil", "obj", "text"]
    assert ids("contains_any_v=[1,2]") == ["list"]
    assert ids("contains_v=[1,1.0]") == ["list"]


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


# --- Timestamps and limits that are not plain numbers ------------------------------

ODD_NUMBERS = ["²", "1" * 5000, "9223372036854775808", "-1", "1e3", "1.0", " "]


@pytest.mark.parametrize("text", ODD_NUMBERS)
@pytest.mark.parametrize("name", ["_since", "_before", "_to", "_limit", "last_modified"])
def test_odd_numbers_in_querystrings_are_a_400(
    record: webtest.TestApp, name: str, text: str
) -> None:
    url = f"{RECORDS}?{name}={quote(text)}"
    response = record.get(url, headers=ALICE, expect_errors=True)
    if name == "_limit" and text == " ":  # an empty _limit is ignored, as in Kinto
        assert response.status_int == 200
        return
    assert response.status_int == 400
    assert response.json["details"][0]["name"] == name


@pytest.mark.parametrize("text", ODD_NUMBERS)
def test_odd_numbers_in_a_delete_timestamp_are_a_400(record: webtest.TestApp, text: str) -> None:
    url = f"{RECORDS}/r?last_modified={quote(text)}"
    response = record.delete(url, headers=ALICE, expect_errors=True)
    assert response.status_int == 400
    record.get(f"{RECORDS}/r", headers=ALICE, status=200)


@pytest.mark.parametrize("text", ODD_NUMBERS)
@pytest.mark.parametrize("header", ["If-Match", "If-None-Match"])
def test_odd_numbers_in_preconditions_are_a_400(
    record: webtest.TestApp, header: str, text: str
) -> None:
    headers = {**ALICE, header: f'"{text}"'.encode().decode("latin-1")}
    for path in (RECORDS, f"{RECORDS}/r"):
        response = record.get(path, headers=headers, expect_errors=True)
        assert response.status_int == 400
        assert response.json["details"][0] == {
            "location": "header",
            "name": header,
            "description": "The value should be integer between double quotes.",
        }


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


@pytest.mark.parametrize("text", ["0" * 5000 + "1", "\uff11", "\u0661", "0001"])
def test_decimal_digits_of_any_script_are_numbers_like_in_kinto(
    record: webtest.TestApp, text: str
) -> None:
    for name in ("_limit", "_since", "_before"):
        record.get(f"{RECORDS}?{name}={quote(text)}", headers=ALICE, status=200)


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
