"""``kinto start --workers N``: several processes serving one socket.

Each test starts real servers.  The children of the ``kinto start`` process are
read from ``/proc``, so the tests see the workers the kernel sees.
"""

from __future__ import annotations

import contextlib
import http.client
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


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets ``pid`` holds open (``socket:[123]`` links)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def server_side_inodes(client_ports: set[int]) -> dict[str, int]:
    """Server-side sockets of the connections from ``client_ports``: inode -> port."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if remote_port in client_ports and fields[9] != "0":
                    found[fields[9]] = remote_port
    return found


def port(connection: http.client.HTTPConnection) -> int:
    return connection.sock.getsockname()[1]


def served_by(worker_pids: set[int], ports: set[int]) -> dict[int, set[int]]:
    """Which worker holds the connections from ``ports``: {pid: set of client ports}."""
    inodes = server_side_inodes(ports)
    return {pid: {inodes[i] for i in socket_inodes(pid) if i in inodes} for pid in worker_pids}


def open_connection(url: str) -> http.client.HTTPConnection:
    """A keep-alive connection that has been served once (so it has been handed out)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/v1/")
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    return connection


def test_connections_go_to_the_least_busy_worker(
    tmp_path: Path, start_server: StartServer
) -> None:
    """Eight keep-alive clients split four and four, and closed ones free their worker."""
    settings = sql_settings(SQLITE_TEMPLATE, f"sqlite:///{tmp_path / 'kinto.db'}")
    server = start_server(settings, options=["--workers", "2"])
    pids = wait_for_children(server.pid, 2)
    connections = [open_connection(server.url) for _ in range(8)]
    held = served_by(pids, {port(c) for c in connections})
    assert sorted(len(ports) for ports in held.values()) == [4, 4], held

    busy, other = sorted(pids)
    leaving = [c for c in connections if port(c) in held[busy]]
    staying = [c for c in connections if c not in leaving]
    for connection in leaving:
        connection.close()
    # The worker reports the closes once it sees them; wait until it no longer
    # holds them, then give the report time to reach the supervisor.
    deadline = time.monotonic() + 10
    while served_by({busy}, held[busy])[busy] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    newcomers = [open_connection(server.url) for _ in range(4)]
    held = served_by(pids, {port(c) for c in [*staying, *newcomers]})
    assert held[busy] == {port(c) for c in newcomers}, held
    assert len(held[other]) == 4
    for connection in [*staying, *newcomers]:
        connection.close()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to pin apart")
def test_each_worker_has_a_core_of_its_own(tmp_path: Path, start_server: StartServer) -> None:
    settings = sql_settings(SQLITE_TEMPLATE, f"sqlite:///{tmp_path / 'kinto.db'}")
    server = start_server(settings, options=["--workers", "2"])
    pids = wait_for_children(server.pid, 2)
    cpus = [os.sched_getaffinity(pid) for pid in pids]
    assert all(len(allowed) == 1 for allowed in cpus), cpus
    assert cpus[0] != cpus[1]
    assert requests.get(f"{server.url}/v1/", timeout=5).status_code == 200


def test_workers_stop_when_the_supervisor_dies(tmp_path: Path, start_server: StartServer) -> None:
    """Killed without a chance to stop them, the parent leaves no worker behind."""
    settings = sql_settings(SQLITE_TEMPLATE, f"sqlite:///{tmp_path / 'kinto.db'}")
    server = start_server(settings, options=["--workers", "2"])
    pids = wait_for_children(server.pid, 2)
    os.kill(server.pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
