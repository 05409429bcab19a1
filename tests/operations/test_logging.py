"""Logging: Kinto's ini logging sections give mozlog JSON lines and request summaries.

A real ``kinto`` process runs with the logging sections of Kinto 26.5.0's ini
template, its console handler switched to the JSON formatter as Kinto's
documentation shows; the test parses the lines it writes.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.operations.capture import wait_for
from tests.server import KintoServer, write_ini

pytestmark = pytest.mark.process

# The logging sections of Kinto 26.5.0's kinto.tpl, ``formatter = json``.
KINTO_LOGGING_SECTIONS = """
[loggers]
keys = root, kinto

[handlers]
keys = console

[formatters]
keys = color, json

[logger_root]
level = INFO
handlers = console

[logger_kinto]
level = DEBUG
handlers = console
qualname = kinto
propagate = 0

[handler_console]
class = kinto.core.StreamHandlerWithRequestID
args = (sys.stderr,)
level = NOTSET
formatter = {formatter}

[formatter_color]
class = logging_color_formatter.ColorFormatter

[formatter_json]
class = kinto.core.JsonLogFormatter
"""


def _ini(folder: Path, formatter: str, settings: dict[str, str] | None = None) -> Path:
    path = write_ini(folder / "kinto.ini", settings)
    with path.open("a", encoding="utf-8") as ini:
        ini.write(KINTO_LOGGING_SECTIONS.format(formatter=formatter))
    return path


def _json_lines(server: KintoServer) -> list[dict[str, Any]]:
    lines = []
    for line in server.output().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def _summaries(server: KintoServer) -> list[dict[str, Any]]:
    return [line for line in _json_lines(server) if line["Type"] == "request.summary"]


def test_request_summaries_in_mozlog_json(tmp_path: Path) -> None:
    with KintoServer(_ini(tmp_path, "json", {"kinto.project_name": "myproject"})) as server:
        rid = f"test-{uuid.uuid4()}"
        response = requests.get(
            f"{server.url}/v1/buckets/default/collections/tasks/records?_limit=2&_sort=-x",
            auth=("alice", "secret-password"),
            headers={"X-Request-Id": rid, "User-Agent": "tests/1.0", "Accept-Language": "fr"},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.headers["X-Request-Id"] == rid
        missing = requests.get(f"{server.url}/v1/buckets/unknown", timeout=10)
        assert missing.status_code in (401, 403)

        def summary_of(request_id: str) -> list[dict[str, Any]]:
            return [line for line in _summaries(server) if line["Fields"]["rid"] == request_id]

        line = wait_for(lambda: summary_of(rid))[0]
        assert line["Logger"] == "myproject"
        assert line["Severity"] == 6
        assert line["EnvVersion"] == "2.0"
        fields = line["Fields"]
        assert fields["method"] == "GET"
        assert fields["path"] == "/v1/buckets/default/collections/tasks/records"
        assert fields["querystring"] == {"_limit": "2", "_sort": "-x"}
        assert fields["code"] == 200
        assert fields["errno"] == 0
        assert fields["agent"] == "tests/1.0"
        assert fields["lang"] == "fr"
        assert fields["authn_type"] == "basicauth"
        assert len(fields["uid"]) == 64
        assert isinstance(fields["t"], int)
        assert "T" in fields["time"]

        refused_rid = missing.headers["X-Request-Id"]
        uuid.UUID(refused_rid)  # Generated when the client gave none.
        refused = wait_for(lambda: summary_of(refused_rid))[0]["Fields"]
        assert refused["code"] == missing.status_code
        assert refused["errno"] == missing.json()["errno"]
        # Nothing of the credentials is written.
        assert "secret-password" not in server.output()
        assert "Authorization" not in server.output()


def test_unusable_request_ids_are_replaced(tmp_path: Path) -> None:
    with KintoServer(_ini(tmp_path, "json")) as server:
        response = requests.get(
            f"{server.url}/v1/", headers={"X-Request-Id": "x" * 500}, timeout=10
        )
        uuid.UUID(response.headers["X-Request-Id"])


def test_other_records_logged_during_a_request_carry_its_id(tmp_path: Path) -> None:
    settings = {"kinto.includes": "tests.fixtures_plugins.failing_view"}
    repository = str(Path(__file__).parents[2])
    with KintoServer(_ini(tmp_path, "json", settings), env={"PYTHONPATH": repository}) as server:
        rid = f"failing-{uuid.uuid4()}"
        response = requests.get(
            f"{server.url}/v1/__failing__", headers={"X-Request-Id": rid}, timeout=10
        )
        assert response.status_code == 500

        def error_lines() -> list[dict[str, Any]]:
            return [
                line
                for line in _json_lines(server)
                if line["Severity"] == 3 and line["Fields"].get("rid") == rid
            ]

        error = wait_for(error_lines)[0]
        assert "RuntimeError" in error["Fields"]["traceback"]


def test_colour_formatter_starts(tmp_path: Path) -> None:
    with KintoServer(_ini(tmp_path, "color")) as server:
        assert requests.get(f"{server.url}/v1/", timeout=10).status_code == 200
        # The colour formatter's own layout of a summary: method, path, status.
        wait_for(lambda: '"GET   /v1/' in server.output() or None)
