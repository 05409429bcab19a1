r"""Kinto's tutorials, replayed with httpie's ``http`` command exactly as they are written.

Each command below is copied from the tutorial, ``$`` prompt aside, and run by
bash in a terminal (a pseudo-terminal, so httpie prints what the reader sees:
with ``-v`` the request then the response, else the response headers and body),
pipes (``echo '...' | http ...``), ``\`` continuations, ``--auth`` and
``If-Match:'"..."'`` quoting included.  Only these are replaced:

* the server address (``https://kinto.dev.mozaws.net``, ``http://localhost:8888``)
  by the server started for the test;
* values the tutorial's server generated, which the reader copies from earlier
  responses as the tutorial tells: the record id, the ``ETag``/``last_modified``
  sent back in ``If-Match``, and Bob's and Mary's user ids (they derive from the
  server's HMAC secret, unknown for the tutorial's server).

The obsolete ``ETag`` and the ``_since`` value of the tutorial are sent as
written: any outdated value behaves the same.  The tutorial starts its groups
part on a ``todo`` bucket where Alice already has a record; the set-up commands
doing that are marked as such.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from tests.clients.conftest import Backend, clean_environment
from tests.server import StartServer, kinto_command, write_ini

pytestmark = [pytest.mark.clients, pytest.mark.process]

VERSION = "3.2.4"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COMMAND_TIMEOUT = 60
UUID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
STATUS_LINE = re.compile(r"^HTTP/1\.1 (\d{3}) (.*)$", re.MULTILINE)

# "First steps with Kinto": the tutorial's values, replaced as described above.
TUTORIAL_HOST = "https://kinto.dev.mozaws.net"
TUTORIAL_RECORD_ID = "a5f490b2-218e-4d71-ac5a-f046ae285c55"
TUTORIAL_ETAG_AFTER_PATCH = "1436172229372"
TUTORIAL_LAST_MODIFIED_AFTER_DONE = "1436172442466"
TUTORIAL_BOB = "basicauth:a103c2e714a04615783de8a03fef1c7fee221214387dd07993bb9aed1f2f2148"
TUTORIAL_MARY = "basicauth:8d1661a89bd2670f3c42616e3527fa30521743e4b9825fa4ea05adc45ef695b6"
ALICE_RECORD = "2fa91620-f4fa-412e-aee0-957a7ad2dc0e"
GROUP = "/buckets/todo/groups/alice-friends"

POST_TASK = r"""echo '{"data": {"description": "Write a tutorial explaining Kinto", "status": "todo"}}' | \
http POST https://kinto.dev.mozaws.net/v1/buckets/default/collections/tasks/records \
-v --auth 'user:password'"""

GET_TASKS = r"""http GET https://kinto.dev.mozaws.net/v1/buckets/default/collections/tasks/records \
-v --auth 'user:password'"""

PATCH_DOING = r"""echo '{"data": {"status": "doing"}}' | \
http PATCH https://kinto.dev.mozaws.net/v1/buckets/default/collections/tasks/records/a5f490b2-218e-4d71-ac5a-f046ae285c55 \
-v --auth 'user:password'"""

PATCH_OBSOLETE = r"""echo '{"data": {"status": "done"}}' | \
http PATCH https://kinto.dev.mozaws.net/v1/buckets/default/collections/tasks/records/a5f490b2-218e-4d71-ac5a-f046ae285c55 \
If-Match:'"1434641515332"' \
-v --auth 'user:password'"""

GET_TASK = r"""http GET https://kinto.dev.mozaws.net/v1/buckets/default/collections/tasks/records/a5f490b2-218e-4d71-ac5a-f046ae285c55 \
-v --auth 'user:password'"""

PATCH_DONE = r"""echo '{"data": {"status": "done"}}' | \
http PATCH https://kinto.dev.mozaws.net/v1/buckets/default/collections/tasks/records/a5f490b2-218e-4d71-ac5a-f046ae285c55 \
If-Match:'"1436172229372"' \
-v --auth 'user:password'"""

DELETE_TASK = r"""http DELETE https://kinto.dev.mozaws.net/v1/buckets/default/collections/tasks/records/a5f490b2-218e-4d71-ac5a-f046ae285c55 \
If-Match:'"1436172442466"' \
-v --auth 'user:password'"""

GET_SINCE = r"""http GET https://kinto.dev.mozaws.net/v1/buckets/default/collections/tasks/records?_since=1434642603605 \
-v --auth 'user:password'"""

PATCH_TODO_BUCKET = r"""echo '{"permissions": {"group:create": ["system.Authenticated"]}}' | \
http PATCH https://kinto.dev.mozaws.net/v1/buckets/todo \
-v --auth 'user:password'"""

PUT_GROUP = r"""echo '{"data": {
"members": ["basicauth:a103c2e714a04615783de8a03fef1c7fee221214387dd07993bb9aed1f2f2148",
"basicauth:8d1661a89bd2670f3c42616e3527fa30521743e4b9825fa4ea05adc45ef695b6"]
}}' | http PUT https://kinto.dev.mozaws.net/v1/buckets/todo/groups/alice-friends \
-v --auth 'alice:alicepassword'"""

SHARE_RECORD = r"""echo '{
"permissions": {
"read": ["/buckets/todo/groups/alice-friends"]
}
}' | \
http PATCH https://kinto.dev.mozaws.net/v1/buckets/todo/collections/tasks/records/2fa91620-f4fa-412e-aee0-957a7ad2dc0e \
-v --auth 'alice:alicepassword'"""

MARY_READS = r"""http GET https://kinto.dev.mozaws.net/v1/buckets/todo/collections/tasks/records/2fa91620-f4fa-412e-aee0-957a7ad2dc0e \
-v --auth 'mary:marypassword'"""

# Set-up the tutorial takes for granted, in its style.
SETUP_TODO_BUCKET = r"""http PUT https://kinto.dev.mozaws.net/v1/buckets/todo \
-v --auth 'user:password'"""
SETUP_TODO_TASKS = r"""echo '{"permissions": {"record:create": ["system.Authenticated"]}}' | \
http PUT https://kinto.dev.mozaws.net/v1/buckets/todo/collections/tasks \
-v --auth 'user:password'"""
SETUP_ALICE_RECORD = r"""echo '{"data": {"description": "Alice shares this task", "status": "todo"}}' | \
http PUT https://kinto.dev.mozaws.net/v1/buckets/todo/collections/tasks/records/2fa91620-f4fa-412e-aee0-957a7ad2dc0e \
-v --auth 'alice:alicepassword'"""

# "How to define and use a custom ID generator?"
ID_GENERATOR_HOST = "http://localhost:8888"
ID_GENERATOR_SETTING = "kinto.id_generator = name_generator.NameGenerator"
POST_WITH_NAME_GENERATOR = r"""echo '{"data": {"yeah": "oh"}}' | http POST http://localhost:8888/v1/buckets/default/collections/tasks/records --auth user:pass"""
# Set-up: the tutorial's response shows `account:user`, an account (Kinto's accounts docs).
SETUP_ACCOUNT = (
    r"""echo '{"data": {"password": "pass"}}' | http PUT http://localhost:8888/v1/accounts/user"""
)


@dataclass
class Exchange:
    """What httpie printed: the request (with ``-v``) and the response."""

    output: str
    status: int = 0
    reason: str = ""
    headers: CaseInsensitiveDict[str] = field(default_factory=CaseInsensitiveDict)
    body: Any = None
    request_line: str = ""
    request_headers: CaseInsensitiveDict[str] = field(default_factory=CaseInsensitiveDict)
    request_body: Any = None


def _head_and_body(text: str) -> tuple[list[str], Any]:
    head, _, body = text.strip("\n").partition("\n\n")
    body = body.strip()
    return head.splitlines(), (json.loads(body) if body else None)


def _headers(lines: list[str]) -> CaseInsensitiveDict[str]:
    return CaseInsensitiveDict(line.split(": ", 1) for line in lines if ": " in line)


def parse(output: str) -> Exchange:
    """Split httpie's terminal output into request and response."""
    match = STATUS_LINE.search(output)
    assert match, f"no HTTP response in httpie's output:\n{output}"
    exchange = Exchange(output, status=int(match.group(1)), reason=match.group(2))
    request = output[: match.start()].strip("\n")
    if request:
        lines, exchange.request_body = _head_and_body(request)
        exchange.request_line = lines[0]
        exchange.request_headers = _headers(lines[1:])
    lines, exchange.body = _head_and_body(output[match.start() :])
    exchange.headers = _headers(lines[1:])
    return exchange


class Terminal:
    """Runs tutorial commands with bash in a pseudo-terminal, as a reader would."""

    def __init__(self, home: Path, server_url: str, replacements: dict[str, str]) -> None:
        self.replacements = replacements
        self.server_url = server_url
        config = home / "httpie"
        config.mkdir(parents=True, exist_ok=True)
        # httpie's own preferences: no background check for a newer httpie.
        (config / "config.json").write_text('{"disable_update_warnings": true}')
        bin_dir = str(Path(sys.executable).parent)
        self.env = clean_environment(
            {
                "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                "HTTPIE_CONFIG_DIR": str(config),
                "TERM": "xterm",
            }
        )

    def command(self, text: str, host: str) -> str:
        text = text.replace(host, self.server_url)
        for tutorial_value, ours in self.replacements.items():
            text = text.replace(tutorial_value, ours)
        return text

    def run(self, text: str, host: str = TUTORIAL_HOST) -> Exchange:
        command = self.command(text, host)
        master, slave = pty.openpty()
        process = subprocess.Popen(
            ["bash", "-c", command],
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=self.env,
            start_new_session=True,
        )
        os.close(slave)
        chunks: list[bytes] = []
        deadline = time.monotonic() + COMMAND_TIMEOUT
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 1)
                if not ready:
                    continue
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the command ended and closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            else:
                process.kill()
                pytest.fail(f"timed out: {command}", pytrace=False)
            process.wait(timeout=COMMAND_TIMEOUT)
            errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
        finally:
            os.close(master)
            if process.stderr:
                process.stderr.close()
        raw = b"".join(chunks).decode(errors="replace")
        output = ANSI.sub("", raw).replace("\r\n", "\n").replace("\r", "")
        assert process.returncode == 0, f"{command}\nexit {process.returncode}\n{output}{errors}"
        return parse(output)


def user_id(server_url: str, user: str, password: str) -> str:
    response = requests.get(f"{server_url}/v1/", auth=(user, password), timeout=10)
    return response.json()["user"]["id"]


@pytest.fixture(scope="module")
def httpie_installed() -> None:
    assert metadata.version("httpie") == VERSION, "pip install -e '.[test]'"
    assert Path(sys.executable).with_name("http").exists()
    assert shutil.which("bash"), "the tutorials' commands are bash commands"


def test_first_steps_tutorial(
    httpie_installed: None, backend: Backend, start_server: StartServer, tmp_path: Path
) -> None:
    ini = write_ini(tmp_path / "kinto.ini", backend.ini_settings())
    backend.migrate(ini)
    server = start_server(ini_path=ini)
    values: dict[str, str] = {}
    terminal = Terminal(tmp_path, server.url, values)
    userid = user_id(server.url, "user", "password")
    alice = user_id(server.url, "alice", "alicepassword")
    values[TUTORIAL_BOB] = user_id(server.url, "bob", "bobpassword")
    values[TUTORIAL_MARY] = user_id(server.url, "mary", "marypassword")

    # "we can post a sample record in the tasks collection"
    created = terminal.run(POST_TASK)
    assert created.request_line == "POST /v1/buckets/default/collections/tasks/records HTTP/1.1"
    assert created.request_headers["Authorization"] == "Basic dXNlcjpwYXNzd29yZA=="
    assert created.request_headers["Content-Type"] == "application/json"
    assert created.request_body == {
        "data": {"description": "Write a tutorial explaining Kinto", "status": "todo"}
    }
    assert (created.status, created.reason) == (201, "Created")
    assert created.headers["Content-Type"].startswith("application/json")
    record = created.body["data"]
    assert set(record) == {"description", "id", "last_modified", "status"}
    assert UUID.fullmatch(record["id"])
    assert isinstance(record["last_modified"], int)
    assert record["description"] == "Write a tutorial explaining Kinto"
    assert record["status"] == "todo"
    assert created.body["permissions"] == {"write": [userid]}
    values[TUTORIAL_RECORD_ID] = record["id"]

    # "Let us fetch our new collection of tasks" -- note the ETag.
    listed = terminal.run(GET_TASKS)
    assert listed.status == 200
    assert listed.body == {"data": [record]}
    assert listed.headers["ETag"] == f'"{record["last_modified"]}"'
    assert "Last-Modified" in listed.headers

    # "We can also update one of our tasks using its id"
    doing = terminal.run(PATCH_DOING)
    assert doing.request_line.startswith(
        f"PATCH /v1/buckets/default/collections/tasks/records/{record['id']} "
    )
    assert doing.request_body == {"data": {"status": "doing"}}
    assert doing.status == 200
    assert doing.body["data"] == {
        **record,
        "status": "doing",
        "last_modified": doing.body["data"]["last_modified"],
    }
    assert doing.body["data"]["last_modified"] > record["last_modified"]
    assert doing.body["permissions"] == {"write": [userid]}

    # "modify the record using an obsolete value of ETag"
    refused = terminal.run(PATCH_OBSOLETE)
    assert refused.request_headers["If-Match"] == '"1434641515332"'
    assert (refused.status, refused.reason) == (412, "Precondition Failed")
    assert {key: refused.body[key] for key in ("code", "errno", "error", "message")} == {
        "code": 412,
        "errno": 114,
        "error": "Precondition Failed",
        "message": "Resource was modified meanwhile",
    }
    assert refused.headers["ETag"] == f'"{doing.body["data"]["last_modified"]}"'
    assert "Last-Modified" in refused.headers

    # "fetch the last version of this single record"
    fetched = terminal.run(GET_TASK)
    assert fetched.status == 200
    assert fetched.body == doing.body
    assert fetched.headers["ETag"] == f'"{doing.body["data"]["last_modified"]}"'
    assert "Last-Modified" in fetched.headers
    values[TUTORIAL_ETAG_AFTER_PATCH] = fetched.headers["ETag"].strip('"')

    # "send back again our modifications using the last record ETag value"
    done = terminal.run(PATCH_DONE)
    assert done.request_headers["If-Match"] == fetched.headers["ETag"]
    assert done.status == 200
    assert done.body["data"]["status"] == "done"
    assert done.body["data"]["description"] == record["description"]
    assert done.body["data"]["last_modified"] > doing.body["data"]["last_modified"]
    assert done.body["permissions"] == {"write": [userid]}
    values[TUTORIAL_LAST_MODIFIED_AFTER_DONE] = str(done.body["data"]["last_modified"])

    # "delete the record and use the same mechanism to avoid conflicts"
    deleted = terminal.run(DELETE_TASK)
    assert deleted.request_line.startswith("DELETE ")
    assert deleted.request_headers["If-Match"] == f'"{done.body["data"]["last_modified"]}"'
    assert deleted.status == 200
    tombstone = deleted.body["data"]
    assert tombstone == {
        "deleted": True,
        "id": record["id"],
        "last_modified": tombstone["last_modified"],
    }
    assert tombstone["last_modified"] > done.body["data"]["last_modified"]

    # "query the list of changes (updates and deletions)" with _since
    changes = terminal.run(GET_SINCE)
    assert changes.request_line.startswith(
        "GET /v1/buckets/default/collections/tasks/records?_since=1434642603605 "
    )
    assert changes.status == 200
    assert changes.body == {"data": [tombstone]}
    assert changes.headers["ETag"] == f'"{tombstone["last_modified"]}"'

    # "...a 304 Not Modified response in this case, simply send the If-None-Match
    # header with the last ETag value" (prose only: the same command, that header added).
    not_modified = terminal.run(
        GET_SINCE.replace(" \\\n-v", f" \\\nIf-None-Match:'{changes.headers['ETag']}' \\\n-v")
    )
    assert not_modified.request_headers["If-None-Match"] == changes.headers["ETag"]
    assert (not_modified.status, not_modified.body) == (304, None)

    # Working with groups -- the tutorial's starting point first.
    assert terminal.run(SETUP_TODO_BUCKET).status == 201
    assert terminal.run(SETUP_TODO_TASKS).status == 201
    assert terminal.run(SETUP_ALICE_RECORD).status == 201

    # "add the permission for authenticated users to create groups in the todo bucket"
    bucket = terminal.run(PATCH_TODO_BUCKET)
    assert bucket.request_body == {"permissions": {"group:create": ["system.Authenticated"]}}
    assert bucket.status == 200
    assert bucket.body["data"]["id"] == "todo"
    assert isinstance(bucket.body["data"]["last_modified"], int)
    assert bucket.body["permissions"] == {
        "group:create": ["system.Authenticated"],
        "write": [userid],
    }

    # "Alice can create a group of her friends (Bob and Mary)"
    group = terminal.run(PUT_GROUP)
    assert group.request_headers["Authorization"] == "Basic YWxpY2U6YWxpY2VwYXNzd29yZA=="
    members = [values[TUTORIAL_BOB], values[TUTORIAL_MARY]]
    assert group.request_body == {"data": {"members": members}}
    assert (group.status, group.reason) == (201, "Created")
    assert group.body["data"]["id"] == "alice-friends"
    assert group.body["data"]["members"] == members
    assert isinstance(group.body["data"]["last_modified"], int)
    assert group.body["permissions"] == {"write": [alice]}

    # Mary cannot read Alice's record yet.
    assert terminal.run(MARY_READS).status == 403

    # "Alice can share records directly with her group of friends"
    shared = terminal.run(SHARE_RECORD)
    assert shared.request_body == {"permissions": {"read": [GROUP]}}
    assert shared.status == 200
    assert shared.body["data"]["id"] == ALICE_RECORD
    assert isinstance(shared.body["data"]["last_modified"], int)
    assert shared.body["permissions"]["read"] == [GROUP]
    assert shared.body["permissions"]["write"] == [alice]

    # "And now Mary can access the record"
    read = terminal.run(MARY_READS)
    assert read.request_headers["Authorization"] == "Basic bWFyeTptYXJ5cGFzc3dvcmQ="
    assert read.status == 200
    assert read.body["data"] == shared.body["data"]
    assert read.body["data"]["description"] == "Alice shares this task"


def test_custom_id_generator_tutorial(
    httpie_installed: None, backend: Backend, start_server: StartServer, tmp_path: Path
) -> None:
    # A configuration as `kinto init` writes it (accounts), then the tutorial's steps:
    # name_generator.py beside it and the `kinto.id_generator` setting.
    ini = tmp_path / "kinto.ini"
    initialized = subprocess.run(
        [*kinto_command(), "init", "--ini", str(ini), "--backend", "memory"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environment(),
    )
    assert initialized.returncode == 0, initialized.stderr
    text = ini.read_text(encoding="utf-8")
    assert "[app:main]\n" in text
    ini.write_text(text.replace("[app:main]\n", f"[app:main]\n{ID_GENERATOR_SETTING}\n", 1))
    shutil.copyfile(FIXTURES / "name_generator.py", tmp_path / "name_generator.py")
    backend.migrate(ini, backend.env)
    server = start_server(ini_path=ini, env=backend.env)
    terminal = Terminal(tmp_path, server.url, {})

    account = terminal.run(SETUP_ACCOUNT, host=ID_GENERATOR_HOST)
    assert account.status == 201

    # "Now, if you try to generate a new record, you should have the new ID used"
    created = terminal.run(POST_WITH_NAME_GENERATOR, host=ID_GENERATOR_HOST)
    assert created.request_line == ""  # no -v: httpie shows the response only
    assert (created.status, created.reason) == (201, "Created")
    assert created.headers["Content-Type"].startswith("application/json")
    record = created.body["data"]
    assert set(record) == {"id", "last_modified", "yeah"}
    assert re.fullmatch(r"^[a-zA-Z0-9-_]{8}$", record["id"])
    assert record["yeah"] == "oh"
    assert isinstance(record["last_modified"], int)
    assert created.body["permissions"] == {"write": ["account:user"]}

    # The same command again: another id of the same shape.
    again = terminal.run(POST_WITH_NAME_GENERATOR, host=ID_GENERATOR_HOST)
    assert again.status == 201
    assert re.fullmatch(r"^[a-zA-Z0-9-_]{8}$", again.body["data"]["id"])
    assert again.body["data"]["id"] != record["id"]
