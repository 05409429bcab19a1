"""``kinto start --workers N``: several processes serving one socket.

Each test starts real servers.  The children of the ``kinto start`` process are
read from ``/proc``, so the tests see the workers the kernel sees.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from kinto_clone import workers
from kinto_clone.core.live.hub import CONCURRENT_READS
from tests.server import StartServer, kinto_command, sql_settings, write_ini
from tests.sync_scenario import check_concurrent_writes
from tests.test_multiprocess import postgresql_database as postgresql_database
from tests.test_multiprocess import postgresql_ini

pytestmark = pytest.mark.process

SQLITE_TEMPLATE = "kinto_clone.core.{kind}.sqlite"


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def wait_for_children(pid: int, count: int, excluded: set[int] = frozenset()) -> set[int]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = children(pid) - excluded
        if len(found) == count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pid} has children {children(pid)}, expected {count} new ones")


def test_two_workers_on_sqlite_share_the_socket_and_the_data(
    tmp_path: Path, start_server: StartServer
) -> None:
    settings = sql_settings(SQLITE_TEMPLATE, f"sqlite:///{tmp_path / 'kinto.db'}")
    server = start_server(settings, options=["--workers", "2"])
    assert len(wait_for_children(server.pid, 2)) == 2
    check_concurrent_writes([server.url])
    assert "with 2 workers" in server.output()


def test_a_dead_worker_is_replaced(tmp_path: Path, start_server: StartServer) -> None:
    settings = sql_settings(SQLITE_TEMPLATE, f"sqlite:///{tmp_path / 'kinto.db'}")
    server = start_server(settings, options=["--workers", "2"])
    first = wait_for_children(server.pid, 2)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    replacement = wait_for_children(server.pid, 1, excluded=first)
    assert victim not in replacement
    for _ in range(20):
        response = requests.get(f"{server.url}/v1/", timeout=5)
        assert response.status_code == 200
    assert "killed by signal 9" in server.output()


def test_sigterm_stops_every_worker(tmp_path: Path, start_server: StartServer) -> None:
    settings = sql_settings(SQLITE_TEMPLATE, f"sqlite:///{tmp_path / 'kinto.db'}")
    server = start_server(settings, options=["--workers", "3"])
    pids = wait_for_children(server.pid, 3)
    parent = server.pid
    server.stop()
    for pid in (parent, *pids):
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_workers_from_the_ini(tmp_path: Path, start_server: StartServer) -> None:
    settings = sql_settings(SQLITE_TEMPLATE, f"sqlite:///{tmp_path / 'kinto.db'}")
    ini_path = write_ini(tmp_path / "kinto.ini", settings)
    text = ini_path.read_text().replace("[server:main]\n", "[server:main]\nworkers = 2\n")
    ini_path.write_text(text)
    server = start_server(ini_path=ini_path)
    assert len(wait_for_children(server.pid, 2)) == 2


@pytest.mark.postgresql
def test_two_workers_on_postgresql(
    tmp_path: Path, postgresql_database: str, start_server: StartServer
) -> None:
    ini_path = postgresql_ini(tmp_path, postgresql_database)
    server = start_server(ini_path=ini_path, options=["--workers", "2"])
    assert len(wait_for_children(server.pid, 2)) == 2
    check_concurrent_writes([server.url])


@pytest.mark.parametrize("option", ["2", "0", "two"])
def test_refused_set_ups_get_one_line(tmp_path: Path, option: str) -> None:
    """The memory backends (the default test ini) keep data per process: refused."""
    ini_path = write_ini(tmp_path / "kinto.ini")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINTO_")}
    result = subprocess.run(
        [*kinto_command(), "start", "--ini", str(ini_path), "--port", "9", "--workers", option],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    expected = {"2": "memory storage backend", "0": "at least one", "two": "whole number"}
    assert expected[option] in lines[0]


def test_pools_keep_workers_under_max_connections() -> None:
    # 4 threads each, 100 connections: each worker gets what its threads need,
    # and room for the reads of its live subscribers, whose threads come on top.
    needed = 4 + CONCURRENT_READS
    assert workers.pool_defaults({}, 8, 4, 100)["storage_pool_size"] == str(needed)
    # 40 workers cannot have 4 each under 100 connections less the headroom.
    defaults = workers.pool_defaults({}, 40, 4, 100)
    assert int(defaults["storage_pool_size"]) * 40 <= 100 - workers.CONNECTION_HEADROOM
    assert defaults["storage_max_overflow"] == "0"
    # Settings given by the operator win.
    given = workers.pool_defaults({"storage_pool_size": "7"}, 2, 4, 100)
    assert "storage_pool_size" not in given
    assert given["permission_pool_size"] == str(needed)
