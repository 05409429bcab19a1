"""The "First steps with Kinto" tutorial, replayed against a real ``kinto`` process.

Each step sends what the tutorial's httpie commands send and checks what the
tutorial shows: status codes, body shapes, ``ETag``/``If-Match`` conflicts,
tombstones through ``_since``, groups and sharing.

The tutorial's user ids come from Mozilla's demo server, whose HMAC secret we
do not know: we check their shape (``basicauth:`` + 64 hex digits), that they
are the ids the server reports for each user in ``GET /v1/``, and that they
stay the same from one step to the next.

The tutorial starts its "Working with groups" part on a ``todo`` bucket where
Alice already has a ``tasks`` record; here the first user creates the bucket
and the collection (letting authenticated users create records), and Alice
creates her record, as real users would have to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.backends import BACKEND_PARAMS, empty_backend
from tests.server import KintoServer, basicauth_userid, write_ini

pytestmark = pytest.mark.process

USER = ("user", "password")
ALICE = ("alice", "alicepassword")
BOB = ("bob", "bobpassword")
MARY = ("mary", "marypassword")
EVE = ("eve", "evepassword")
USERID = re.compile(r"basicauth:[0-9a-f]{64}")
TASKS = "/buckets/default/collections/tasks/records"
TODO_TASKS = "/buckets/todo/collections/tasks/records"
ALICE_RECORD = f"{TODO_TASKS}/2fa91620-f4fa-412e-aee0-957a7ad2dc0e"


class Client:
    """httpie, in short: JSON requests to ``/v1`` of one server."""

    def __init__(self, server: KintoServer) -> None:
        self.base = f"{server.url}/v1"
        self.session = requests.Session()

    def __call__(
        self,
        method: str,
        path: str,
        auth: tuple[str, str] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        return self.session.request(
            method, self.base + path, auth=auth, json=body, headers=headers, timeout=10
        )

    def userid(self, auth: tuple[str, str]) -> str:
        return self("GET", "/", auth=auth).json()["user"]["id"]


@pytest.fixture(scope="module", params=BACKEND_PARAMS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KintoServer]:
    """One server per backend for the module: the tutorial's steps build on each other."""
    settings = empty_backend(request, request.param).settings
    ini = write_ini(tmp_path_factory.mktemp("tutorial") / "kinto.ini", settings)
    with KintoServer(ini) as running:
        yield running


@pytest.fixture
def http(server: KintoServer) -> Client:
    return Client(server)


def test_user_ids_have_the_tutorial_shape(http: Client) -> None:
    for user in (USER, ALICE, BOB, MARY):
        userid = http.userid(user)
        assert USERID.fullmatch(userid)
        assert userid == f"basicauth:{basicauth_userid(*user)}"
        assert http.userid(user) == userid
    assert len({http.userid(user) for user in (USER, ALICE, BOB, MARY)}) == 4


def test_sync_user_data_between_devices(http: Client) -> None:
    userid = http.userid(USER)

    # POST a task in the default bucket: the collection is created implicitly.
    body = {"data": {"description": "Write a tutorial explaining Kinto", "status": "todo"}}
    response = http("POST", TASKS, USER, body)
    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith("application/json")
    created = response.json()
    record = created["data"]
    assert set(record) == {"description", "id", "last_modified", "status"}
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", record["id"])
    assert (record["description"], record["status"]) == (body["data"]["description"], "todo")
    assert created["permissions"] == {"write": [userid]}
    record_path = f"{TASKS}/{record['id']}"

    # Fetch the collection; keep the ETag for later.
    response = http("GET", TASKS, USER)
    assert response.status_code == 200
    assert response.json() == {"data": [record]}
    first_etag = response.headers["ETag"]
    assert first_etag == f'"{record["last_modified"]}"'
    assert "Last-Modified" in response.headers

    # Update the task.
    response = http("PATCH", record_path, USER, {"data": {"status": "doing"}})
    assert response.status_code == 200
    doing = response.json()
    assert doing["data"]["status"] == "doing"
    assert doing["data"]["description"] == record["description"]
    assert doing["data"]["last_modified"] > record["last_modified"]
    assert doing["permissions"] == {"write": [userid]}

    # An obsolete If-Match is refused.
    response = http(
        "PATCH", record_path, USER, {"data": {"status": "done"}}, {"If-Match": first_etag}
    )
    assert response.status_code == 412
    error = response.json()
    assert {k: error[k] for k in ("code", "errno", "error", "message")} == {
        "code": 412,
        "errno": 114,
        "error": "Precondition Failed",
        "message": "Resource was modified meanwhile",
    }
    assert response.headers["ETag"] == f'"{doing["data"]["last_modified"]}"'

    # Fetch the latest version of the record...
    response = http("GET", record_path, USER)
    assert response.status_code == 200
    assert response.json() == doing
    current_etag = response.headers["ETag"]
    assert current_etag == f'"{doing["data"]["last_modified"]}"'

    # ...and send the merged change with its ETag.
    response = http(
        "PATCH", record_path, USER, {"data": {"status": "done"}}, {"If-Match": current_etag}
    )
    assert response.status_code == 200
    done = response.json()["data"]
    assert done["status"] == "done"
    done_etag = f'"{done["last_modified"]}"'

    # Delete it, with the same protection.
    response = http("DELETE", record_path, USER, headers={"If-Match": first_etag})
    assert response.status_code == 412
    response = http("DELETE", record_path, USER, headers={"If-Match": done_etag})
    assert response.status_code == 200
    tombstone = response.json()["data"]
    assert tombstone == {
        "deleted": True,
        "id": record["id"],
        "last_modified": tombstone["last_modified"],
    }
    assert tombstone["last_modified"] > done["last_modified"]

    # Changes since the first fetch: only the deletion.
    since = first_etag.strip('"')
    response = http("GET", f"{TASKS}?_since={since}", USER)
    assert response.status_code == 200
    assert response.json() == {"data": [tombstone]}
    latest_etag = response.headers["ETag"]
    assert latest_etag == f'"{tombstone["last_modified"]}"'
    assert http("GET", TASKS, USER).json() == {"data": []}

    # Nothing changed since: 304 with If-None-Match.
    response = http("GET", f"{TASKS}?_since={since}", USER, headers={"If-None-Match": latest_etag})
    assert response.status_code == 304
    assert response.content == b""
    response = http("GET", f"{TASKS}?_since={latest_etag.strip(chr(34))}", USER)
    assert response.json() == {"data": []}


@pytest.fixture
def todo_bucket(http: Client) -> Iterator[None]:
    """What a user must do before the tutorial's group steps: bucket and collection."""
    response = http("PUT", "/buckets/todo", USER)
    assert response.status_code == 201
    response = http(
        "PUT",
        "/buckets/todo/collections/tasks",
        USER,
        {"permissions": {"record:create": ["system.Authenticated"]}},
    )
    assert response.status_code == 201
    yield
    http("DELETE", "/buckets/todo", USER)


def test_working_with_groups(http: Client, todo_bucket: None) -> None:
    userid, alice, bob, mary = (http.userid(user) for user in (USER, ALICE, BOB, MARY))

    # Authenticated users may create groups in the todo bucket.
    body = {"permissions": {"group:create": ["system.Authenticated"]}}
    response = http("PATCH", "/buckets/todo", USER, body)
    assert response.status_code == 200
    assert response.json()["data"]["id"] == "todo"
    assert response.json()["permissions"] == {
        "group:create": ["system.Authenticated"],
        "write": [userid],
    }

    # Alice has a task in the shared collection.
    response = http("PUT", ALICE_RECORD, ALICE, {"data": {}})
    assert response.status_code == 201
    assert response.json()["permissions"] == {"write": [alice]}

    # Alice creates a group of her friends, Bob and Mary.
    body = {"data": {"members": [bob, mary]}}
    response = http("PUT", "/buckets/todo/groups/alice-friends", ALICE, body)
    assert response.status_code == 201
    group = response.json()
    assert group["data"]["id"] == "alice-friends"
    assert group["data"]["members"] == [bob, mary]
    assert isinstance(group["data"]["last_modified"], int)
    assert group["permissions"] == {"write": [alice]}

    # Before sharing, Mary cannot read Alice's task.
    assert http("GET", ALICE_RECORD, MARY).status_code == 403

    # Alice shares her task with the group.
    body = {"permissions": {"read": ["/buckets/todo/groups/alice-friends"]}}
    response = http("PATCH", ALICE_RECORD, ALICE, body)
    assert response.status_code == 200
    shared = response.json()
    assert shared["data"]["id"] == "2fa91620-f4fa-412e-aee0-957a7ad2dc0e"
    assert shared["permissions"] == {
        "read": ["/buckets/todo/groups/alice-friends"],
        "write": [alice],
    }

    # Mary (and Bob) can now read it; others cannot.
    response = http("GET", ALICE_RECORD, MARY)
    assert response.status_code == 200
    assert response.json()["data"] == shared["data"]
    assert response.json()["permissions"] == {}
    assert http("GET", ALICE_RECORD, BOB).status_code == 200
    assert http("GET", ALICE_RECORD, EVE).status_code == 403
    assert http("GET", ALICE_RECORD).status_code == 401
    # Reading is not writing.
    assert http("PATCH", ALICE_RECORD, MARY, {"data": {"x": 1}}).status_code == 403


def test_sharing_a_record_of_the_personal_bucket(http: Client) -> None:
    records = "/buckets/default/collections/shared/records"
    record = http("POST", records, USER, {"data": {"status": "todo"}}).json()["data"]
    bucket_id = http("GET", "/buckets/default", USER).json()["data"]["id"]
    assert bucket_id == http("GET", "/", USER).json()["user"]["bucket"]
    full_path = f"/buckets/{bucket_id}/collections/shared/records/{record['id']}"
    assert http("GET", full_path, MARY).status_code == 403
    body = {"permissions": {"read": [http.userid(MARY)]}}
    assert http("PATCH", full_path, USER, body).status_code == 200
    response = http("GET", full_path, MARY)
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "todo"
