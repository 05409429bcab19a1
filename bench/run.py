"""`make bench`: the same HTTP work against Kinto 26.5.0 and kinto_clone, side by side.

Why it is built this way:

* Both servers read the *same* generated ini (one per backend), so a difference in
  the numbers comes from the code, not from settings.  Only the PostgreSQL
  database differs, given to each server by the ``KINTO_*_URL`` environment
  variables that both honour.
* Every one-process server is pinned to CPU 0 and ``wrk`` to CPU 1 (``taskset``):
  on a shared 2-core machine this keeps the load generator from stealing the
  server's core.  The ``--workers 2`` columns (PostgreSQL, SQLite) may run on both
  CPUs, as a deployment would: they share CPU 1 with ``wrk`` (and, like every
  column, with PostgreSQL), so their ratio to one process is what two processes
  gain on this machine, not what two free cores would give.  They serve the
  database of their one-process sibling, seeded once, so both read the same data.
* All servers run at once but only one is under load at a time; each round
  visits every workload and, per workload, the servers in alternating order
  (K C, then C K, ...), so slow drift of a noisy machine cancels out.  The
  reported number is the median over rounds.
* Kinto is installed in its own virtualenv (``bench/.venv-kinto``): both projects
  ship a ``kinto`` command, so they cannot share the project's venv.
* Write workloads go to a ``scratch`` collection: the 10,000-record ``tasks``
  collection stays identical across rounds, so read numbers stay comparable.

Run ``python bench/run.py --help``; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import live

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
WRK_DIR = BENCH_DIR / "wrk"
RESULTS_DIR = BENCH_DIR / "results"
WORK_DIR = BENCH_DIR / ".work"
KINTO_VENV = BENCH_DIR / ".venv-kinto"
KINTO_VERSION = "26.5.0"
# ``monitoring`` brings prometheus-client, which Kinto's Prometheus plugin needs (--metrics).
KINTO_REQUIREMENT = f"kinto[postgresql,monitoring]=={KINTO_VERSION}"
# --metrics: both servers include Kinto's Prometheus plugin; ours also sends StatsD
# packets (Kinto keeps one metrics backend) to a port where nothing listens: UDP
# sends cost the same whether or not anyone reads them.
METRICS_INCLUDES = "kinto.plugins.default_bucket kinto.plugins.prometheus"
METRICS_STATSD_URL = "udp://127.0.0.1:9"
PROJECT_VENV = REPO_DIR / ".venv"

HOST = "127.0.0.1"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/{db}"
# Named after the checkout: two worktrees benchmarking on one PostgreSQL would
# otherwise drop each other's databases mid-run (``dropdb --force``).
CHECKOUT = re.sub(r"[^a-z0-9]+", "_", REPO_DIR.name.lower()).strip("_")[:40] or "repo"
PG_DATABASES = {"kinto": f"bench_kinto_{CHECKOUT}", "clone": f"bench_clone_{CHECKOUT}"}

SERVER_CPU = "0"
CLIENT_CPU = "1"
# The --workers columns: every CPU, wrk's included (the machine has two).
WORKERS_CPUS = "0,1"
WORKERS = 2
CONNECTIONS = 8
WARMUP_SECONDS = 2
WRK_TIMEOUT = "30s"
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
# Concurrent seeding helps in memory; on PostgreSQL, concurrent writes to one
# collection conflict (Kinto answers 409, the batch is retried) and one client
# thread measured about twice as fast as two or four.
SEED_THREADS = {"memory": 4, "postgresql": 1, "sqlite": 2}
BATCH_SIZE = 25
SEED_ATTEMPTS = 20

USER_A = ("alice", "alice-bench-password")
USER_B = ("bob", "bob-bench-password")
BUCKET = "bench"
TASKS = "tasks"
SCRATCH = "scratch"
GROUP = "readers"
TASKS_RECORDS = 10_000
SINCE_CHANGES = 50
PAGE_SIZE = 100
SCALE_SIZES = (1_000, 10_000, 100_000)

ALL_BACKENDS = ("memory", "postgresql", "sqlite")


# --------------------------------------------------------------------------- processes

_STARTED: list[subprocess.Popen[Any]] = []
"""Every child this script started, so the final ``finally`` can stop them all."""


class Interrupted(Exception):
    """Raised from SIGTERM/SIGHUP so cleanup runs as for Ctrl-C."""


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(f"signal {signum}")


def pinned(cpu: str | None, argv: Sequence[str]) -> list[str]:
    """``argv`` run on one CPU when ``taskset`` and a second core exist."""
    if cpu is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return list(argv)
    return ["taskset", "-c", cpu, *argv]


def spawn(
    argv: Sequence[str], *, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group (killable as a whole), output to ``log``."""
    with log.open("ab") as stream:
        proc = subprocess.Popen(
            list(argv),
            stdout=stream,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=WORK_DIR,
            start_new_session=True,
        )
    _STARTED.append(proc)
    return proc


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT)
        # Children that outlived their leader (none expected) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    if proc in _STARTED:
        _STARTED.remove(proc)


def stop_all() -> None:
    """Stop every child still running: the last word of every exit path."""
    for proc in list(_STARTED):
        stop(proc)


def run_bounded(
    argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` whose child (and its group) dies with us or at ``timeout``."""
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
        start_new_session=True,
    )
    _STARTED.append(proc)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        out, _ = proc.communicate()
        return subprocess.CompletedProcess(proc.args, -9, out + "\n[timed out]")
    finally:
        stop(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out)


def free_port() -> int:
    """An unused loopback port (ephemeral range: never 8888/8899)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 15) -> str:
    """The end of a server log, to say why it failed without opening files."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- HTTP client


def basic_auth(user: tuple[str, str]) -> str:
    """The ``Authorization`` header value; both servers hash it into a user id."""
    return "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any


class Client:
    """A keep-alive JSON client (stdlib only: this script must run anywhere)."""

    def __init__(self, port: int, user: tuple[str, str] | None = USER_A) -> None:
        self.port = port
        self.auth = basic_auth(user) if user else None
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> Response:
        headers = {"Accept": "application/json"}
        if self.auth:
            headers["Authorization"] = self.auth
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                raw = self.conn.getresponse()
                data = raw.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
                continue
            parsed = json.loads(data) if data else None
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, parsed)
        raise AssertionError("unreachable")

    def expect(self, status: int, method: str, path: str, body: Any = None) -> Any:
        """The decoded body, or an error naming the request when the status differs."""
        response = self.request(method, path, body)
        if response.status != status:
            raise BenchError(
                f"{method} {path}: HTTP {response.status} (expected {status}): "
                f"{str(response.body)[:300]}"
            )
        return response.body

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class BenchError(Exception):
    """A server misbehaved or a tool is missing; the message says which."""


def wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, path: str = "/v1/") -> None:
    """Poll ``path`` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    client = Client(port, USER_A)
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(f"exited with {proc.returncode}:\n{tail(log)}")
            with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
                if client.request("GET", path).status == 200:
                    return
            client.close()
            time.sleep(0.2)
    finally:
        client.close()
    raise BenchError(f"not ready after {STARTUP_TIMEOUT:.0f} s:\n{tail(log)}")


# --------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class Column:
    """One server on one backend: a column of the result tables."""

    key: str
    server: str  # "kinto" or "clone"
    backend: str
    label: str
    # ``kinto start --workers N``; N > 1 serves the database of ``sibling``
    # (the one-process column, started and seeded first) on every CPU.
    workers: int = 1
    sibling: str | None = None


COLUMNS = {
    c.key: c
    for c in (
        Column("kinto-memory", "kinto", "memory", "Kinto memory"),
        Column("clone-memory", "clone", "memory", "ours memory"),
        Column("kinto-postgresql", "kinto", "postgresql", "Kinto PG"),
        Column("clone-postgresql", "clone", "postgresql", "ours PG"),
        Column("clone-sqlite", "clone", "sqlite", "ours SQLite"),
        Column(
            "clone-postgresql-workers",
            "clone",
            "postgresql",
            f"ours PG {WORKERS} workers",
            WORKERS,
            "clone-postgresql",
        ),
        Column(
            "clone-sqlite-workers",
            "clone",
            "sqlite",
            f"ours SQLite {WORKERS} workers",
            WORKERS,
            "clone-sqlite",
        ),
    )
}

# backend -> (columns shown, (ours, theirs) ratio pairs)
TABLES: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "memory": (["kinto-memory", "clone-memory"], [("clone-memory", "kinto-memory")]),
    "postgresql": (
        ["kinto-postgresql", "clone-postgresql", "clone-postgresql-workers"],
        [
            ("clone-postgresql", "kinto-postgresql"),
            ("clone-postgresql-workers", "clone-postgresql"),
        ],
    ),
    "sqlite": (
        ["kinto-memory", "kinto-postgresql", "clone-sqlite", "clone-sqlite-workers"],
        [
            ("clone-sqlite", "kinto-memory"),
            ("clone-sqlite", "kinto-postgresql"),
            ("clone-sqlite-workers", "clone-sqlite"),
        ],
    ),
}

BACKEND_MODULES = {
    "memory": "kinto.core.{kind}.memory",
    "postgresql": "kinto.core.{kind}.postgresql",
    "sqlite": "kinto_clone.core.{kind}.sqlite",
}
CLONE_MODULES = {
    "memory": "kinto_clone.core.{kind}.memory",
    "postgresql": "kinto_clone.core.{kind}.postgresql",
    "sqlite": "kinto_clone.core.{kind}.sqlite",
}


def render_ini(backend: str, threads: int) -> str:
    """The ini both servers read for ``backend`` (Kinto's own format and names)."""
    if backend == "memory":
        url = ""
    elif backend == "postgresql":
        url = PG_DSN.format(db="bench")
    else:
        url = f"sqlite:///{WORK_DIR / 'clone.sqlite'}"
    backends = "\n".join(
        f"kinto.{kind}_backend = {BACKEND_MODULES[backend].format(kind=kind)}\n"
        f"kinto.{kind}_url = {url}"
        for kind in ("storage", "permission", "cache")
    )
    url_note = (
        "# The database is given per server by KINTO_{STORAGE,PERMISSION,CACHE}_URL.\n"
        if backend == "postgresql"
        else ""
    )
    return f"""\
# Generated by bench/run.py: read by BOTH servers, do not edit.
[server:main]
use = egg:waitress#main
host = {HOST}
port = %(http_port)s
threads = {threads}

[app:main]
# kinto_clone's live changes: room for the 1,000 idle streams of the live
# workload beside its 100 (ignored by Kinto).
kinto.live_max_subscribers = 1200
use = egg:kinto
kinto.includes = kinto.plugins.default_bucket
multiauth.policies = basicauth
kinto.userid_hmac_secret = bench-userid-hmac-secret
kinto.default_bucket_hmac_secret = bench-default-bucket-hmac-secret
{url_note}{backends}

# Per-request logging would measure stderr I/O, not the servers: warnings only,
# and not waitress's "Task queue depth" warning, emitted on every busy request.
[loggers]
keys = root, waitress_queue

[logger_waitress_queue]
level = ERROR
handlers =
qualname = waitress.queue

[handlers]
keys = console

[formatters]
keys = plain

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = plain

[formatter_plain]
format = %(asctime)s %(levelname)s [%(name)s] %(message)s
"""


def kinto_command(server: str) -> list[str]:
    """Each server's own ``kinto`` script, from its own venv (they share the name)."""
    if server == "kinto":
        return [str(KINTO_VENV / "bin" / "kinto")]
    script = PROJECT_VENV / "bin" / "kinto"
    if script.exists():
        return [str(script)]
    return [str(PROJECT_VENV / "bin" / "python"), "-m", "kinto_clone"]


def server_env(column: Column, metrics: bool = False) -> dict[str, str]:
    """A clean environment: no stray ``KINTO_*``/``STORAGE_URL`` from the caller."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KINTO_")
        and key.split("_", 1)[0] not in {"STORAGE", "PERMISSION", "CACHE", "HTTP"}
        and key != "PYTHONPATH"
    }
    env["PYTHONUNBUFFERED"] = "1"
    if column.backend == "postgresql":
        url = PG_DSN.format(db=PG_DATABASES[column.server])
        for kind in ("STORAGE", "PERMISSION", "CACHE"):
            env[f"KINTO_{kind}_URL"] = url
    if metrics:
        env["KINTO_INCLUDES"] = METRICS_INCLUDES
        if column.server == "clone":
            env["KINTO_STATSD_URL"] = METRICS_STATSD_URL
    return env


@dataclass
class Running:
    column: Column
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    fixture: Fixture | None = None
    failure: str | None = None

    def alive(self) -> bool:
        return self.failure is None and self.proc.poll() is None


def ensure_kinto_venv() -> None:
    """Create ``bench/.venv-kinto`` with Kinto 26.5.0 unless it is already there."""
    python = KINTO_VENV / "bin" / "python"
    if python.exists():
        check = run_bounded(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('kinto'))"],
            timeout=60,
        )
        if check.returncode == 0 and check.stdout.strip() == KINTO_VERSION:
            return
    print(f"[setup] installing {KINTO_REQUIREMENT} into {KINTO_VENV} ...", flush=True)
    if not python.exists():
        made = run_bounded([sys.executable, "-m", "venv", str(KINTO_VENV)], timeout=300)
        if made.returncode != 0:
            raise BenchError(f"python -m venv failed:\n{made.stdout[-2000:]}")
    pip = run_bounded(
        [str(KINTO_VENV / "bin" / "pip"), "install", "--quiet", KINTO_REQUIREMENT], timeout=900
    )
    if pip.returncode != 0:
        raise BenchError(f"pip install {KINTO_REQUIREMENT} failed:\n{pip.stdout[-2000:]}")


def ensure_wrk() -> None:
    """Install Debian's ``wrk`` if missing (the harness is useless without it)."""
    if shutil.which("wrk"):
        return
    print("[setup] wrk missing: apt-get install -y wrk", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    for argv in ([*sudo, "apt-get", "update"], [*sudo, "apt-get", "install", "-y", "wrk"]):
        done = run_bounded(argv, timeout=600)
        if done.returncode != 0:
            raise BenchError(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}")
    if not shutil.which("wrk"):
        raise BenchError("wrk still not found after apt-get install")


def clone_backend_missing(backend: str) -> str | None:
    """Why our server cannot run ``backend`` yet (missing modules), or None."""
    modules = [CLONE_MODULES[backend].format(kind=k) for k in ("storage", "permission", "cache")]
    code = (
        "import importlib.util, sys\n"
        f"missing = [m for m in {modules!r} if importlib.util.find_spec(m) is None]\n"
        "print(' '.join(missing))\n"
    )
    python = PROJECT_VENV / "bin" / "python"
    found = run_bounded([str(python), "-c", code], timeout=60)
    if found.returncode != 0:
        return f"cannot inspect the project venv: {found.stdout.strip()[-300:]}"
    missing = found.stdout.strip()
    return f"our server has no {missing} yet" if missing else None


def postgresql_missing() -> str | None:
    """Why the PostgreSQL columns cannot run, or None when the server answers."""
    ready = run_bounded(["pg_isready", "-h", HOST, "-p", "5432"], timeout=20)
    if ready.returncode != 0:
        return f"PostgreSQL not reachable at {HOST}:5432 ({ready.stdout.strip()})"
    return None


def recreate_database(name: str) -> None:
    """A fresh database per run, so every run starts from the same empty state."""
    base = ["-h", HOST, "-U", "postgres"]
    for argv in (["dropdb", *base, "--if-exists", "--force", name], ["createdb", *base, name]):
        done = run_bounded(argv, timeout=120)
        if done.returncode != 0:
            raise BenchError(f"{' '.join(argv)}: {done.stdout.strip()}")


def analyze_database(name: str) -> None:
    """``VACUUM ANALYZE`` after seeding, as autovacuum would in production.

    These machines run PostgreSQL with autovacuum off: without it a freshly
    seeded schema keeps the statistics of empty tables and the planner picks
    sequential scans (a record read measured 10-12 ms instead of 2.3 ms).
    """
    argv = ["psql", "-h", HOST, "-U", "postgres", "-d", name, "-qc", "VACUUM ANALYZE"]
    done = run_bounded(argv, timeout=600)
    if done.returncode != 0:
        raise BenchError(f"VACUUM ANALYZE of {name}: {done.stdout.strip()}")


def start_column(column: Column, ini: Path, threads: int, metrics: bool = False) -> Running:
    """Migrate if needed, start pinned (CPU 0, or every CPU for workers) and wait
    until it answers.  A workers column finds its sibling's database ready."""
    log = WORK_DIR / f"{column.key}.log"
    log.write_text("")
    env = server_env(column, metrics)
    if column.backend == "postgresql" and column.sibling is None:
        recreate_database(PG_DATABASES[column.server])
    if column.backend in {"postgresql", "sqlite"} and column.sibling is None:
        migrate = run_bounded(
            [*kinto_command(column.server), "migrate", "--ini", str(ini)], timeout=300, env=env
        )
        with log.open("a") as stream:
            stream.write(migrate.stdout)
        if migrate.returncode != 0:
            raise BenchError(f"kinto migrate failed ({migrate.returncode}):\n{tail(log)}")
    port = free_port()
    argv = [*kinto_command(column.server), "start", "--ini", str(ini), "--port", str(port)]
    cpus = SERVER_CPU
    if column.workers > 1:
        argv += ["--workers", str(column.workers)]
        cpus = WORKERS_CPUS
    proc = spawn(pinned(cpus, argv), log=log, env=env)
    running = Running(column, proc, port, log)
    try:
        wait_ready(proc, port, log)
    except BaseException:
        stop(proc)
        raise
    return running


def start_hello(threads: int) -> Running:
    """The framework-ceiling app, pinned like the servers and with their threads."""
    log = WORK_DIR / "hello.log"
    log.write_text("")
    port = free_port()
    python = str(PROJECT_VENV / "bin" / "python")
    argv = [python, str(BENCH_DIR / "hello_app.py"), "--port", str(port)]
    argv += ["--threads", str(threads)]
    proc = spawn(pinned(SERVER_CPU, argv), log=log, env=server_env(COLUMNS["clone-memory"]))
    try:
        wait_ready(proc, port, log)
    except BaseException:
        stop(proc)
        raise
    return Running(Column("hello", "hello", "-", "hello"), proc, port, log)


# --------------------------------------------------------------------------- seeding


@dataclass
class Fixture:
    """Ids and timestamps the workloads need, found while seeding a server."""

    record_id: str = ""
    shared_id: str = ""
    scratch_id: str = ""
    since: dict[str, int] = field(default_factory=dict)  # collection -> _since value
    user_b: str = ""
    default_bucket: str = ""  # user A's real id behind /buckets/default


def records_path(collection: str) -> str:
    """The records URL of a collection of the ``bench`` bucket, /v1 prefix included."""
    return f"/v1/buckets/{BUCKET}/collections/{collection}/records"


def record_id(collection: str, n: int) -> str:
    """A stable UUID per seeded record, so a retried batch overwrites, never duplicates."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kinto-bench/{collection}/{n}"))


def seeded_record(n: int) -> dict[str, Any]:
    """The data of seeded record ``n``: half ``status=todo``, for list_filtered."""
    return {
        "title": f"task {n}",
        "status": "todo" if n % 2 == 0 else "done",
        "n": n,
        "tags": ["bench", f"group-{n % 10}"],
        "description": "seeded by bench/run.py for the benchmark",
    }


def seed_records(port: int, collection: str, count: int, threads: int) -> None:
    """Create ``count`` records with /batch of 25, from several client threads.

    Batches run concurrently (a thread pool over keep-alive connections) because
    creating 100,000 records one batch at a time takes minutes per server.
    Concurrent writes may be refused (Kinto's PostgreSQL backend answers 409 and
    then rolls the whole batch back), so records are PUT with fixed ids and a
    refused batch is simply sent again; the final count is checked.
    """
    local = threading.local()
    clients: list[Client] = []
    lock = threading.Lock()
    path = records_path(collection)[3:]

    def client() -> Client:
        if not hasattr(local, "client"):
            local.client = Client(port, USER_A)
            with lock:
                clients.append(local.client)
        return local.client

    def send(start: int) -> None:
        requests = [
            {
                "path": f"{path}/{record_id(collection, n)}",
                "body": {"data": seeded_record(n)},
            }
            for n in range(start, min(start + BATCH_SIZE, count))
        ]
        body = {"defaults": {"method": "PUT"}, "requests": requests}
        statuses: list[int] = []
        for attempt in range(1, SEED_ATTEMPTS + 1):
            response = client().request("POST", "/v1/batch", body)
            if response.status == 200:
                statuses = [r["status"] for r in response.body["responses"]]
                if all(status in {200, 201} for status in statuses):
                    return
                if not all(status in {200, 201, 409} or status >= 500 for status in statuses):
                    break
            elif response.status not in {409, 503}:
                statuses = [response.status]
                break
            time.sleep(0.05 * attempt)
        raise BenchError(f"seeding {collection}: statuses {sorted(set(statuses))}")

    try:
        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(send, range(0, count, BATCH_SIZE)):
                pass
    finally:
        for c in clients:
            c.close()
    counter = Client(port, USER_A)
    try:
        response = counter.request("HEAD", records_path(collection))
    finally:
        counter.close()
    total = response.headers.get("total-objects") or response.headers.get("total-records")
    if response.status != 200 or total != str(count):
        raise BenchError(f"seeding {collection}: HEAD says {total} records, not {count}")


def since_for(client: Client, collection: str) -> int:
    """The ``_since`` value that returns exactly SINCE_CHANGES records."""
    query = f"?_sort=-last_modified&_limit={SINCE_CHANGES + 1}&_fields=last_modified"
    data = client.expect(200, "GET", records_path(collection) + query)["data"]
    if len(data) <= SINCE_CHANGES:
        raise BenchError(f"{collection}: only {len(data)} records")
    return int(data[SINCE_CHANGES]["last_modified"])


def seed_base(port: int) -> tuple[Client, Fixture]:
    """The bucket, the scratch collection, and user B's id."""
    alice = Client(port, USER_A)
    fixture = Fixture()
    fixture.user_b = Client(port, USER_B).expect(200, "GET", "/v1/")["user"]["id"]
    fixture.default_bucket = alice.expect(200, "GET", "/v1/")["user"]["bucket"]
    alice.expect(201, "PUT", f"/v1/buckets/{BUCKET}", {})
    alice.expect(201, "PUT", f"/v1/buckets/{BUCKET}/collections/{SCRATCH}", {})
    created = alice.expect(201, "POST", records_path(SCRATCH), {"data": {"n": 0}})
    fixture.scratch_id = created["data"]["id"]
    return alice, fixture


def seed_main(port: int, records: int, threads: int) -> Fixture:
    """The main data set: ``tasks`` with ``records`` records, one shared with B."""
    alice, fixture = seed_base(port)
    alice.expect(201, "PUT", f"/v1/buckets/{BUCKET}/collections/{TASKS}", {})
    seed_records(port, TASKS, records, threads)
    path = records_path(TASKS)
    fixture.record_id = alice.expect(200, "GET", f"{path}?n={records // 2}")["data"][0]["id"]
    fixture.shared_id = alice.expect(200, "GET", f"{path}?n={records // 2 + 1}")["data"][0]["id"]
    group = {"data": {"members": [fixture.user_b]}}
    alice.expect(201, "PUT", f"/v1/buckets/{BUCKET}/groups/{GROUP}", group)
    share = {"permissions": {"read": [f"/buckets/{BUCKET}/groups/{GROUP}"]}}
    alice.expect(200, "PATCH", f"{path}/{fixture.shared_id}", share)
    # Last: sharing bumped a timestamp, and the window must hold exactly 50 changes.
    fixture.since[TASKS] = since_for(alice, TASKS)
    alice.close()
    return fixture


def reset_writes(port: int, fixture: Fixture) -> None:
    """Drop what the write workloads created: the ``scratch`` collection and the
    default bucket's ``tasks``.

    Without this the faster server accumulates more records (and permission
    entries) per round, and some costs grow with them (Kinto's memory backend
    scans every permission entry to read one record): the faster server would
    be penalised, and numbers would drift from round to round.
    """
    alice = Client(port, USER_A)
    try:
        scratch = f"/v1/buckets/{BUCKET}/collections/{SCRATCH}"
        alice.expect(200, "DELETE", scratch)
        alice.expect(201, "PUT", scratch, {})
        created = alice.expect(201, "POST", records_path(SCRATCH), {"data": {"n": 0}})
        fixture.scratch_id = created["data"]["id"]
        tasks = f"/v1/buckets/{fixture.default_bucket}/collections/{TASKS}"
        status = alice.request("DELETE", tasks).status
        if status not in {200, 403, 404}:
            raise BenchError(f"DELETE {tasks}: HTTP {status}")
    finally:
        alice.close()


def scale_collection(size: int) -> str:
    """One collection per --scale size, so each size is measured on its own data."""
    return f"scale{size}"


def seed_scale(port: int, sizes: Sequence[int], threads: int) -> Fixture:
    alice, fixture = seed_base(port)
    for size in sizes:
        name = scale_collection(size)
        alice.expect(201, "PUT", f"/v1/buckets/{BUCKET}/collections/{name}", {})
        seed_records(port, name, size, threads)
        fixture.since[name] = since_for(alice, name)
    alice.close()
    return fixture


# --------------------------------------------------------------------------- workloads


@dataclass(frozen=True)
class Request:
    """What wrk sends: its script, URL path, user and extra environment."""

    script: str
    path: str
    user: tuple[str, str] = USER_A
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    build: Callable[[Fixture], Request]
    check: Callable[[Client, Request], None]
    writes: bool = False
    """Whether it creates data that :func:`reset_writes` must drop afterwards."""


def _get_count(expected: int | None, **equal: str) -> Callable[[Client, Request], None]:
    def check(client: Client, request: Request) -> None:
        body = client.expect(200, "GET", request.path)
        if expected is not None and len(body["data"]) != expected:
            raise BenchError(f"GET {request.path}: {len(body['data'])} items, not {expected}")
        for name, value in equal.items():
            if any(item.get(name) != value for item in body["data"]):
                raise BenchError(f"GET {request.path}: an item has {name} != {value}")

    return check


def _check_create(client: Client, request: Request) -> None:
    client.expect(201, "POST", request.path, {"data": {"title": "probe", "status": "todo"}})


def _check_update(client: Client, request: Request) -> None:
    client.expect(200, "PATCH", request.path, {"data": {"n": -1}})


def _check_batch(client: Client, request: Request) -> None:
    body = {
        "defaults": {"method": "POST", "path": request.env["WRK_BATCH_PATH"]},
        "requests": [{"body": {"data": {"n": i}}} for i in range(BATCH_SIZE)],
    }
    result = client.expect(200, "POST", request.path, body)
    statuses = {r["status"] for r in result["responses"]}
    if statuses != {201}:
        raise BenchError(f"batch sub-responses: {sorted(statuses)}")


def _tasks(fx: Fixture, query: str = "") -> str:
    return records_path(TASKS) + query


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "read_one",
            "GET one record",
            lambda fx: Request("get.lua", _tasks(fx, f"/{fx.record_id}")),
            _get_count(None),
        ),
        Workload(
            "list_page",
            f"GET ?_limit={PAGE_SIZE} of {TASKS_RECORDS:,}",
            lambda fx: Request("get.lua", _tasks(fx, f"?_limit={PAGE_SIZE}")),
            _get_count(PAGE_SIZE),
        ),
        Workload(
            "list_filtered",
            f"GET ?status=todo&_sort=-last_modified&_limit={PAGE_SIZE}",
            lambda fx: Request(
                "get.lua", _tasks(fx, f"?status=todo&_sort=-last_modified&_limit={PAGE_SIZE}")
            ),
            _get_count(PAGE_SIZE, status="todo"),
        ),
        Workload(
            "sync_since",
            f"GET ?_since=<ts> ({SINCE_CHANGES} changes)",
            lambda fx: Request("get.lua", _tasks(fx, f"?_since={fx.since[TASKS]}")),
            _get_count(SINCE_CHANGES),
        ),
        Workload(
            "create",
            "POST one record",
            lambda fx: Request("create.lua", records_path(SCRATCH)),
            _check_create,
            writes=True,
        ),
        Workload(
            "update",
            "PATCH one record",
            lambda fx: Request("update.lua", f"{records_path(SCRATCH)}/{fx.scratch_id}"),
            _check_update,
            writes=True,
        ),
        Workload(
            "batch_create",
            f"POST /batch of {BATCH_SIZE} creations (req/s = batches/s)",
            lambda fx: Request(
                "batch_create.lua",
                "/v1/batch",
                env={
                    "WRK_BATCH_PATH": records_path(SCRATCH)[3:],
                    "WRK_BATCH_SIZE": str(BATCH_SIZE),
                },
            ),
            _check_batch,
            writes=True,
        ),
        Workload(
            "shared_read",
            "user B GETs a record shared through a group",
            lambda fx: Request("get.lua", _tasks(fx, f"/{fx.shared_id}"), user=USER_B),
            _get_count(None),
        ),
        Workload(
            "default_bucket_create",
            "POST into /buckets/default/collections/tasks/records",
            lambda fx: Request("create.lua", "/v1/buckets/default/collections/tasks/records"),
            _check_create,
            writes=True,
        ),
    )
}
HELLO = Workload(
    "hello",
    "bare Pyramid view on waitress (framework ceiling)",
    lambda fx: Request("get.lua", "/v1/"),
    _get_count(None),
)


def scale_workloads(sizes: Sequence[int]) -> dict[str, Workload]:
    """``list_page`` and ``sync_since`` against each scale collection."""
    result = {}
    for size in sizes:
        name = scale_collection(size)

        def page(fx: Fixture, name: str = name) -> Request:
            return Request("get.lua", records_path(name) + f"?_limit={PAGE_SIZE}")

        def since(fx: Fixture, name: str = name) -> Request:
            return Request("get.lua", records_path(name) + f"?_since={fx.since[name]}")

        result[f"list_page@{size}"] = Workload(
            f"list_page@{size}", f"list_page, {size:,} records", page, _get_count(PAGE_SIZE)
        )
        result[f"sync_since@{size}"] = Workload(
            f"sync_since@{size}",
            f"sync_since, {size:,} records",
            since,
            _get_count(SINCE_CHANGES),
        )
    return result


# --------------------------------------------------------------------------- wrk


@dataclass(frozen=True)
class CpuSplit:
    """Cores busy during one measured run, by whom: what limits a server that
    shares two cores with ``wrk`` and PostgreSQL.  ``steal`` is time the
    hypervisor gave to other machines."""

    server: float
    wrk: float
    postgresql: float
    other: float
    idle: float
    steal: float
    # The server's processes, busiest first: a workers column shows how evenly
    # its workers share the load (the supervisor is the last, near 0).
    server_processes: tuple[float, ...] = ()

    def describe(self) -> str:
        each = " + ".join(f"{cores:.2f}" for cores in self.server_processes)
        each = f" ({each})" if len(self.server_processes) > 1 else ""
        return (
            f"server {self.server:.2f}{each}, wrk {self.wrk:.2f}, "
            f"PostgreSQL {self.postgresql:.2f}, other {self.other:.2f}, "
            f"idle {self.idle:.2f}, steal {self.steal:.2f}"
        )


def _serves_this_bench(cmdline: Path) -> bool:
    """A PostgreSQL process working for this run: a backend connected to one of its
    databases, or a background process (WAL writer, checkpointer...).  Backends of
    other databases (other people's tests and benches) count as ``other``."""
    title = cmdline.read_bytes().decode(errors="replace")
    connected = "127.0.0.1(" in title or "[local]" in title or "::1(" in title
    return not connected or any(f" {db} " in title for db in PG_DATABASES.values())


@dataclass(frozen=True)
class CpuTicks:
    """Clock ticks so far: the machine's (/proc/stat), each process of the server's
    process group and of PostgreSQL (/proc/<pid>/stat), reaped children (wrk)."""

    at: float
    busy: int
    idle: int
    steal: int
    server: dict[int, int]
    postgresql: dict[int, int]
    children_seconds: float

    @classmethod
    def now(cls, server_group: int) -> CpuTicks:
        # user nice system idle iowait irq softirq steal
        user, nice, system, idle, iowait, irq, softirq, steal = (
            int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
        )
        server: dict[int, int] = {}
        postgresql: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = stat.read_text()
                name = text[text.index("(") + 1 : text.rindex(")")]
                after_name = text[text.rindex(")") + 2 :].split()
                # Fields 5 (process group), 14 and 15 (user and system ticks).
                ticks = int(after_name[11]) + int(after_name[12])
                if int(after_name[2]) == server_group:
                    server[int(stat.parent.name)] = ticks
                elif name == "postgres" and _serves_this_bench(stat.parent / "cmdline"):
                    postgresql[int(stat.parent.name)] = ticks
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            at=time.monotonic(),
            busy=user + nice + system + irq + softirq,
            idle=idle + iowait,
            steal=steal,
            server=server,
            postgresql=postgresql,
            children_seconds=usage.ru_utime + usage.ru_stime,
        )

    def split_since(self, start: CpuTicks) -> CpuSplit:
        """Cores used between ``start`` and this reading (wrk: the children reaped).

        Per process, so that one that exited meanwhile (a PostgreSQL backend)
        does not subtract its whole life; what it used before exiting is lost.
        """
        seconds = max(self.at - start.at, 1e-3)
        per_tick = 1 / (os.sysconf("SC_CLK_TCK") * seconds)

        def used(now: dict[int, int], before: dict[int, int]) -> list[float]:
            return [(ticks - before.get(pid, 0)) * per_tick for pid, ticks in now.items()]

        server_processes = sorted(used(self.server, start.server), reverse=True)
        server = sum(server_processes)
        postgresql = sum(used(self.postgresql, start.postgresql))
        wrk = (self.children_seconds - start.children_seconds) / seconds
        busy = (self.busy - start.busy) * per_tick
        return CpuSplit(
            server=server,
            wrk=wrk,
            postgresql=postgresql,
            other=max(0.0, busy - server - postgresql - wrk),
            idle=(self.idle - start.idle) * per_tick,
            steal=(self.steal - start.steal) * per_tick,
            server_processes=tuple(server_processes),
        )


@dataclass(frozen=True)
class Measure:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu: CpuSplit | None = None


def wrk(port: int, request: Request, seconds: int, server_group: int | None = None) -> Measure:
    """Run wrk on CPU 1 against ``request`` for ``seconds``; parse its JSON line.

    With ``server_group`` (Linux), the cores used meanwhile are measured too.
    """
    env = dict(os.environ)
    env.update(request.env)
    env["WRK_AUTH"] = basic_auth(request.user)
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    argv += ["--timeout", WRK_TIMEOUT, "-s", str(WRK_DIR / request.script)]
    argv.append(f"http://{HOST}:{port}{request.path}")
    counting = server_group is not None and Path("/proc/stat").exists()
    before = CpuTicks.now(server_group) if counting else None
    done = run_bounded(pinned(CLIENT_CPU, argv), timeout=seconds + 60, env=env)
    cpu = CpuTicks.now(server_group).split_since(before) if before and server_group else None
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            data = json.loads(line.removeprefix("WRK_JSON "))
            seconds_run = max(data["duration_us"], 1) / 1e6
            errors = sum(data[k] for k in ("connect", "read", "write", "timeout", "non2xx"))
            # Goodput: a refused request (409 on a write conflict) is cheap and must
            # not count as work done.
            return Measure(
                rps=(data["requests"] - data["non2xx"]) / seconds_run,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                errors=errors,
                cpu=cpu,
            )
    raise BenchError(f"wrk printed no result (exit {done.returncode}):\n{done.stdout[-1500:]}")


# --------------------------------------------------------------------------- the run


@dataclass
class Results:
    """``measures[column][workload]`` is the list of rounds."""

    measures: dict[str, dict[str, list[Measure]]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, key: str, workload: str, measure: Measure) -> None:
        self.measures.setdefault(key, {}).setdefault(workload, []).append(measure)

    def ratio(self, ours: str, theirs: str, workload: str) -> float | None:
        """Median over rounds of ours/theirs req/s, each pair measured back to back.

        Pairing cancels the machine's drift better than a ratio of two medians
        (a slow round slows both sides of its pair); when a round is missing on
        one side, the ratio of the medians is used instead.
        """
        a = self.measures.get(ours, {}).get(workload, [])
        b = self.measures.get(theirs, {}).get(workload, [])
        if a and b and len(a) == len(b) and all(m.rps > 0 for m in b):
            return statistics.median(x.rps / y.rps for x, y in zip(a, b, strict=True))
        ma, mb = self.median(ours, workload), self.median(theirs, workload)
        return ma.rps / mb.rps if ma and mb and mb.rps > 0 else None

    def median(self, key: str, workload: str) -> Measure | None:
        rounds = self.measures.get(key, {}).get(workload)
        if not rounds:
            return None
        return Measure(
            rps=statistics.median(m.rps for m in rounds),
            p50_ms=statistics.median(m.p50_ms for m in rounds),
            p99_ms=statistics.median(m.p99_ms for m in rounds),
            errors=sum(m.errors for m in rounds),
            cpu=median_cpu([m.cpu for m in rounds if m.cpu is not None]),
        )


def median_cpu(splits: Sequence[CpuSplit]) -> CpuSplit | None:
    """Each field's median over rounds (so the fields need not add up)."""
    if not splits:
        return None
    names = [f.name for f in fields(CpuSplit) if f.name != "server_processes"]
    medians = {n: statistics.median(getattr(c, n) for c in splits) for n in names}
    # Per process: the round whose server total is the median.
    middle = sorted(splits, key=lambda c: c.server)[len(splits) // 2]
    return CpuSplit(**medians, server_processes=middle.server_processes)


def measure_one(
    running: Running, workload: Workload, duration: int, results: Results, round_no: int
) -> None:
    """Probe once (right answer?), warm up, then measure; a dead server is recorded."""
    key = running.column.key
    if not running.alive():
        if running.failure is None:
            running.failure = f"process exited ({running.proc.returncode}):\n{tail(running.log)}"
        return
    assert running.fixture is not None
    request = workload.build(running.fixture)
    probe = Client(running.port, request.user)
    try:
        workload.check(probe, request)
    except (BenchError, OSError, http.client.HTTPException, KeyError, ValueError) as error:
        results.errors.append(f"{key} {workload.name}: probe failed: {error}")
        print(f"    {key:18} {workload.name:22} PROBE FAILED: {error}", flush=True)
        return
    finally:
        probe.close()
    try:
        wrk(running.port, request, WARMUP_SECONDS)
        measure = wrk(running.port, request, duration, server_group=running.proc.pid)
    finally:
        if workload.writes:
            reset_writes(running.port, running.fixture)
    results.add(key, workload.name, measure)
    flag = f"  ERRORS={measure.errors}" if measure.errors else ""
    cores = f"\n        cores: {measure.cpu.describe()}" if measure.cpu else ""
    print(
        f"    r{round_no} {key:18} {workload.name:22} {measure.rps:8.1f} req/s  "
        f"p50 {measure.p50_ms:7.2f} ms  p99 {measure.p99_ms:7.2f} ms{flag}{cores}",
        flush=True,
    )


def run_rounds(
    servers: list[Running],
    hello: Running | None,
    workloads: Sequence[Workload],
    rounds: int,
    duration: int,
    results: Results,
) -> None:
    """Rounds x workloads x servers, server order reversed every other round."""
    for round_no in range(1, rounds + 1):
        print(f"[round {round_no}/{rounds}]", flush=True)
        if hello is not None:
            hello.fixture = Fixture()
            measure_one(hello, HELLO, duration, results, round_no)
        order = servers if round_no % 2 else list(reversed(servers))
        for workload in workloads:
            for running in order:
                measure_one(running, workload, duration, results, round_no)


# --------------------------------------------------------------------------- reporting


def fmt_rps(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def fmt_cell(measure: Measure | None) -> str:
    """req/s of a median, flagged when any round saw errors."""
    if measure is None:
        return "—"
    return fmt_rps(measure.rps) + (" ⚠" if measure.errors else "")


def fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def fmt_ratio(value: float) -> str:
    text = f"{value:.2f}x"
    return f"**{text}**" if value >= 1 else text


def geomean(values: Sequence[float]) -> float:
    """The mean of ratios that treats 2x and 0.5x as cancelling out."""
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def render_table(
    backend: str,
    results: Results,
    workloads: Sequence[str],
    skipped: dict[str, str],
    hello: bool,
) -> str:
    """Markdown for one backend: req/s, ratios, p50, p99; skipped columns said why."""
    keys, pairs = TABLES[backend]
    shown = [k for k in keys if k not in skipped]
    pairs = [(a, b) for a, b in pairs if a in shown and b in shown]
    lines = []
    for key in keys:
        if key in skipped:
            lines.append(f"- {COLUMNS[key].label}: skipped: {skipped[key]}")
    if not any(COLUMNS[k].server == "clone" for k in shown) or len(shown) < 2:
        return "\n".join(lines or ["skipped: nothing to compare"]) + "\n"
    label = {k: COLUMNS[k].label for k in shown}
    header = [
        "workload",
        *(f"{label[k]} req/s" for k in shown),
        *(f"{label[a]} / {label[b]}" for a, b in pairs),
        *(f"{label[k]} p50 ms" for k in shown),
        *(f"{label[k]} p99 ms" for k in shown),
    ]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" + "--:|" * (len(header) - 1)]
    ratios: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    for workload in workloads:
        med = {k: results.median(k, workload) for k in shown}
        cells = [workload]
        cells += [fmt_cell(m) for m in med.values()]
        for a, b in pairs:
            ratio = results.ratio(a, b, workload)
            if ratio is not None:
                ratios[(a, b)].append(ratio)
                cells.append(fmt_ratio(ratio))
            else:
                cells.append("—")
        cells += [fmt_ms(m.p50_ms) if m else "—" for m in med.values()]
        cells += [fmt_ms(m.p99_ms) if m else "—" for m in med.values()]
        rows.append("| " + " | ".join(cells) + " |")
    if any(ratios.values()):
        cells = ["**geometric mean**", *("" for _ in shown)]
        cells += [fmt_ratio(geomean(ratios[p])) if ratios[p] else "—" for p in pairs]
        cells += ["" for _ in shown] * 2
        rows.append("| " + " | ".join(cells) + " |")
    out = [*lines, "", *rows, ""]
    hello_m = results.median("hello", "hello") if hello else None
    if hello_m:
        out.append(
            f"hello (bare Pyramid view on waitress, same threads): {fmt_rps(hello_m.rps)} req/s, "
            f"p50 {fmt_ms(hello_m.p50_ms)} ms, p99 {fmt_ms(hello_m.p99_ms)} ms."
        )
        for key in shown:
            read = results.median(key, "read_one")
            if read:
                share = 100 * read.rps / hello_m.rps
                out.append(f"{label[key]} read_one = {share:.0f} % of hello.")
        out.append("")
    return "\n".join(out)


def render_scale(
    backend: str, results: Results, sizes: Sequence[int], skipped: dict[str, str]
) -> str:
    """Req/s per size and the cost per request relative to the smallest size."""
    keys, pairs = TABLES[backend]
    shown = [k for k in keys if k not in skipped]
    out = [f"- {COLUMNS[k].label}: skipped: {skipped[k]}" for k in keys if k in skipped]
    if not any(COLUMNS[k].server == "clone" for k in shown):
        return "\n".join(out or ["skipped: nothing to compare"]) + "\n"
    pairs = [(a, b) for a, b in pairs if a in shown and b in shown]
    label = {k: COLUMNS[k].label for k in shown}
    header = [
        "workload",
        "records",
        *(f"{label[k]} req/s" for k in shown),
        *(f"{label[a]} / {label[b]}" for a, b in pairs),
        *(f"{label[k]} cost x" for k in shown),
        *(f"{label[k]} p50 ms" for k in shown),
    ]
    rows = ["| " + " | ".join(header) + " |", "|---|" + "--:|" * (len(header) - 1)]
    for base in ("list_page", "sync_since"):
        first = {k: results.median(k, f"{base}@{sizes[0]}") for k in shown}
        for size in sizes:
            med = {k: results.median(k, f"{base}@{size}") for k in shown}
            cells = [base, f"{size:,}"]
            cells += [fmt_cell(m) for m in med.values()]
            for a, b in pairs:
                ratio = results.ratio(a, b, f"{base}@{size}")
                cells.append(fmt_ratio(ratio) if ratio is not None else "—")
            for k, m in med.items():
                f = first[k]
                cells.append(f"{f.rps / m.rps:.2f}" if m and f and m.rps else "—")
            cells += [fmt_ms(m.p50_ms) if m else "—" for m in med.values()]
            rows.append("| " + " | ".join(cells) + " |")
    note = (
        f"cost x = time per request relative to {sizes[0]:,} records "
        "(req/s at the smallest size / req/s at this size): 1.00 means size does not matter."
    )
    return "\n".join([*out, "", *rows, "", note, ""])


def git_revision() -> str:
    """The measured code's revision, so a results file says what it measured."""
    done = run_bounded(["git", "-C", str(REPO_DIR), "describe", "--always", "--dirty"], timeout=30)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def header_lines(args: argparse.Namespace, started: dt.datetime) -> list[str]:
    return [
        f"- date: {started:%Y-%m-%d %H:%M} (local); git: `{git_revision()}`",
        f"- command: `python bench/run.py {' '.join(args.argv)}`",
        f"- Kinto {KINTO_VERSION} (bench/.venv-kinto) vs kinto_clone (.venv); "
        f"Python {platform.python_version()}",
        f"- machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} "
        f"{platform.release()}; servers pinned to CPU {SERVER_CPU} ({WORKERS} workers: CPUs "
        f"{WORKERS_CPUS}), wrk to CPU {CLIENT_CPU}; PostgreSQL unpinned",
        f"- wrk -t1 -c{CONNECTIONS} --latency; {WARMUP_SECONDS} s warm-up then {args.duration} s "
        f"measured; median of {args.rounds} round(s), server order alternating per round; "
        f"waitress threads = {args.threads}; Basic auth; logging at WARNING for both",
        "- req/s: successful (< 400) responses per second, higher is better; p50/p99 in ms "
        "(all responses): lower is better; ratio = median over rounds of ours / Kinto req/s, "
        "each pair measured back to back (> 1: we are faster); ⚠ = wrk saw errors or >= 400 "
        "responses (count in the rounds list)",
    ]


def raw_rounds(results: Results, keys: Sequence[str], workloads: Sequence[str]) -> list[str]:
    """Every round's req/s, so a reader can judge the noise behind each median, and
    the median cores used meanwhile by the server, wrk, PostgreSQL and the rest."""
    out = ["<details><summary>req/s of every round, and cores used (medians)</summary>", ""]
    for key in keys:
        for workload in workloads:
            rounds = results.measures.get(key, {}).get(workload)
            if rounds:
                values = ", ".join(
                    fmt_rps(m.rps) + (f" ({m.errors} errors)" if m.errors else "") for m in rounds
                )
                name = COLUMNS[key].label if key in COLUMNS else key
                out.append(f"- {name} {workload}: {values}")
                cpu = median_cpu([m.cpu for m in rounds if m.cpu is not None])
                if cpu is not None:
                    out.append(f"  - cores: {cpu.describe()}")
    out += ["", "</details>", ""]
    return out


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark kinto_clone against Kinto 26.5.0 with wrk (see bench/README.md)."
    )
    parser.add_argument(
        "--backends",
        default=",".join(ALL_BACKENDS),
        help="comma-separated tables to produce: memory,postgresql,sqlite (default: all)",
    )
    parser.add_argument("--duration", type=int, default=10, help="measured seconds (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server (3; >= 2)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 3 s, 1 round")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="both servers with Prometheus on (Kinto's plugin); ours with StatsD too",
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated subset of: {','.join([*WORKLOADS, 'hello', 'live'])}",
    )
    parser.add_argument("--threads", type=int, default=8, help="waitress threads, both (8)")
    parser.add_argument("--records", type=int, default=TASKS_RECORDS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--scale",
        action="store_true",
        help="instead of the workloads: list_page and sync_since at 1k, 10k, 100k records",
    )
    parser.add_argument(
        "--scale-sizes",
        default=",".join(str(s) for s in SCALE_SIZES),
        help="record counts for --scale (default 1000,10000,100000)",
    )
    parser.add_argument(
        "--ours-only",
        action="store_true",
        help="skip Kinto's columns (a --scale run of ours alone: seeding 100k records "
        "into Kinto's PostgreSQL backend takes a quarter of an hour)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    args.argv = list(argv)
    if args.quick:
        args.duration, args.rounds = 3, 1
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - set(ALL_BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(names) - {*WORKLOADS, "hello", "live"}
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    args.hello = "hello" in names or args.workloads == parser.get_default("workloads")
    # ``live``: kinto_clone's live changes (bench/live.py); Kinto has none.
    args.live = "live" in names or args.workloads == parser.get_default("workloads")
    args.workloads = [n for n in names if n not in ("hello", "live")]
    args.scale_sizes = sorted(int(s) for s in args.scale_sizes.split(",") if s.strip())
    if args.duration < 1 or args.rounds < 1 or args.threads < 1:
        parser.error("--duration, --rounds and --threads must be >= 1")
    return args


def availability(columns: Sequence[str]) -> dict[str, str]:
    """column -> why it cannot run; checked before anything starts."""
    skipped: dict[str, str] = {}
    pg = postgresql_missing() if any(k.endswith("postgresql") for k in columns) else None
    kinto_problem = None
    if any(COLUMNS[k].server == "kinto" for k in columns):
        try:
            ensure_kinto_venv()
        except BenchError as error:
            kinto_problem = f"Kinto {KINTO_VERSION} could not be installed: {error}"
    clone_missing = {b: clone_backend_missing(b) for b in {COLUMNS[k].backend for k in columns}}
    for key in columns:
        column = COLUMNS[key]
        if column.server == "kinto" and kinto_problem:
            skipped[key] = kinto_problem
        elif column.backend == "postgresql" and pg:
            skipped[key] = pg
        elif column.server == "clone" and clone_missing[column.backend]:
            skipped[key] = str(clone_missing[column.backend])
    return skipped


def execute(args: argparse.Namespace) -> int:
    started = dt.datetime.now()
    ensure_wrk()
    WORK_DIR.mkdir(exist_ok=True)
    for stale in ("clone.sqlite", "clone.sqlite-wal", "clone.sqlite-shm"):
        (WORK_DIR / stale).unlink(missing_ok=True)
    wanted = list(dict.fromkeys(k for b in args.backends for k in TABLES[b][0]))
    skipped = availability(wanted)
    if args.ours_only:
        for key in wanted:
            if COLUMNS[key].server == "kinto":
                skipped.setdefault(key, "not run (--ours-only)")
    # Kinto columns are only worth their seeding time when a table compares them
    # with one of ours that can run.
    needed = {
        k
        for b in args.backends
        if any(COLUMNS[k].server == "clone" and k not in skipped for k in TABLES[b][0])
        for k in TABLES[b][0]
    }
    wanted = [k for k in wanted if k in needed or k in skipped]
    inis = {}
    for backend in {COLUMNS[k].backend for k in wanted}:
        inis[backend] = WORK_DIR / f"{backend}.ini"
        inis[backend].write_text(render_ini(backend, args.threads))

    servers: list[Running] = []
    for key in wanted:
        if key in skipped:
            print(f"[{key}] skipped: {skipped[key]}", flush=True)
            continue
        column = COLUMNS[key]
        sibling = next((r for r in servers if r.column.key == column.sibling), None)
        if column.sibling is not None and sibling is None:
            skipped[key] = f"needs the data of {COLUMNS[column.sibling].label}, not started"
            print(f"[{key}] skipped: {skipped[key]}", flush=True)
            continue
        print(f"[{key}] starting ...", flush=True)
        running = None
        try:
            running = start_column(column, inis[column.backend], args.threads, args.metrics)
            if sibling is not None:
                # The same object: write workloads' resets update both.
                running.fixture = sibling.fixture
                servers.append(running)
                continue
            begin = time.monotonic()
            threads = SEED_THREADS[column.backend]
            if args.scale:
                running.fixture = seed_scale(running.port, args.scale_sizes, threads)
            else:
                running.fixture = seed_main(running.port, args.records, threads)
            print(f"[{key}] seeded in {time.monotonic() - begin:.1f} s", flush=True)
            if column.backend == "postgresql":
                analyze_database(PG_DATABASES[column.server])
        except (BenchError, OSError, http.client.HTTPException, KeyError, ValueError) as err:
            if running is not None:
                stop(running.proc)
            skipped[key] = f"failed to start or seed: {err}".replace("\n", " / ")[:600]
            print(f"[{key}] skipped: {skipped[key]}", flush=True)
            continue
        servers.append(running)

    hello = start_hello(args.threads) if args.hello and not args.scale else None
    results = Results()
    if args.scale:
        workloads = list(scale_workloads(args.scale_sizes).values())
    else:
        workloads = [WORKLOADS[name] for name in args.workloads]
    run_rounds(servers, hello, workloads, args.rounds, args.duration, results)
    live_lines = run_live(servers, args) if args.live and not args.scale else {}
    for running in servers:
        if running.failure:
            skipped[running.column.key] = f"died during the run: {running.failure}"[:600]

    names = [w.name for w in workloads]
    problems = ["Problems:", *(f"- {e}" for e in results.errors), ""] if results.errors else []
    for backend in args.backends:
        if args.scale:
            title = f"## {backend}: scale (list_page, sync_since)"
            body = render_scale(backend, results, args.scale_sizes, skipped)
        else:
            title = f"## {backend} backend: kinto_clone vs Kinto {KINTO_VERSION}"
            body = render_table(backend, results, names, skipped, hello is not None)
        keys = TABLES[backend][0]
        extra = ["hello"] if hello is not None else []
        document = "\n".join(
            [
                title,
                "",
                *header_lines(args, started),
                "",
                body,
                *raw_rounds(results, [*keys, *extra], [*names, "hello"]),
                *live_lines.get(backend, []),
                *problems,
            ]
        )
        print("\n" + document, flush=True)
        if not args.no_write:
            RESULTS_DIR.mkdir(exist_ok=True)
            suffix = "-scale" if args.scale else "-quick" if args.quick else ""
            suffix += "-metrics" if args.metrics else ""
            target = RESULTS_DIR / f"{started:%Y-%m-%d}-{backend}{suffix}.md"
            target.write_text(document)
            print(f"(written to {target.relative_to(REPO_DIR)})", flush=True)
    return 1 if results.errors else 0


def run_live(servers: Sequence[Running], args: argparse.Namespace) -> dict[str, list[str]]:
    """The ``live`` workload on each running kinto_clone server, by backend."""
    lines: dict[str, list[str]] = {}
    for running in servers:
        column, fixture = running.column, running.fixture
        # Live changes are measured on one process, not on the workers columns.
        one_process_of_ours = column.server == "clone" and column.workers == 1
        if not one_process_of_ours or not running.alive() or fixture is None:
            continue
        print(f"[{column.key}] live ...", flush=True)

        def throughput(name: str, running: Running = running, fixture: Fixture = fixture) -> float:
            return wrk(running.port, WORKLOADS[name].build(fixture), args.duration).rps

        try:
            latency = live.measure_latency(running.port, USER_A)
            capacity = live.measure_capacity(
                running.port, USER_A, throughput, args.rounds, live.ServerProcess(running.proc.pid)
            )
        except (BenchError, OSError, RuntimeError, http.client.HTTPException) as error:
            lines[column.backend] = [f"### live: {column.label}", "", f"failed: {error}", ""]
            continue
        lines[column.backend] = live.render(column.label, latency, capacity)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGHUP, _raise_interrupted)
    try:
        return execute(args)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Interrupted):
        print("bench: interrupted, stopping servers", file=sys.stderr)
        return 130
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
