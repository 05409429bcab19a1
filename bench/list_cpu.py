"""CPU per list request of the list workloads of bench/run.py, in-process.

A collection of 10,000 records seeded as bench/run.py seeds ``tasks`` (batches
of 25 PUTs; ``VACUUM ANALYZE`` or ``ANALYZE`` after) is listed through the WSGI
callable, with no web server: ``list_page`` (``?_limit=100``),
``list_filtered`` (``?status=todo&_sort=-last_modified&_limit=100``) and
``sync_since`` (``?_since=<ts>``, 50 records).  ``time.process_time`` around each
request gives its CPU; the median over the requests is printed, per workload.
On PostgreSQL this is the server's CPU only, not the database's.

Seeding takes a while: ``--seed`` seeds (PostgreSQL: drops and creates
``--database``; SQLite: replaces ``--sqlite-file``), then later runs without it
measure the same data, so that two checkouts can be compared on one data set::

    .venv/bin/python bench/list_cpu.py --backend postgresql --seed
    .venv/bin/python bench/list_cpu.py --backend postgresql --requests 400
    other-checkout/.venv/bin/python bench/list_cpu.py --backend postgresql --requests 400

``--profile PREFIX`` writes a cProfile (CPU time) per workload to ``PREFIX.<workload>``.
The memory backend is seeded on every run.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import logging
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import run

import kinto_clone

RECORDS = 10_000
BATCH = 25
PAGE = 100
SINCE_CHANGES = 50
TASKS = "/v1/buckets/bench/collections/tasks/records"
AUTHORIZATION = "Basic " + base64.b64encode(b"alice:alice-bench-password").decode()
MODULES = {
    "memory": "kinto_clone.core.{kind}.memory",
    "postgresql": "kinto_clone.core.{kind}.postgresql",
    "sqlite": "kinto_clone.core.{kind}.sqlite",
}


def settings_for(args: argparse.Namespace) -> dict[str, str]:
    url = {
        "memory": "",
        "postgresql": f"postgresql://postgres@127.0.0.1:5432/{args.database}",
        "sqlite": f"sqlite:///{args.sqlite_file.resolve()}",
    }[args.backend]
    settings = {
        "kinto.includes": "kinto.plugins.default_bucket",
        "multiauth.policies": "basicauth",
        "kinto.userid_hmac_secret": "bench-userid-hmac-secret",
        "kinto.default_bucket_hmac_secret": "bench-default-bucket-hmac-secret",
    }
    for kind in ("storage", "permission", "cache"):
        settings[f"kinto.{kind}_backend"] = MODULES[args.backend].format(kind=kind)
        if url:
            settings[f"kinto.{kind}_url"] = url
    return settings


class Client:
    """Requests sent to the WSGI callable, Basic auth as bench/run.py's user A."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, method: str, path_qs: str, body: Any = None) -> tuple[str, bytes]:
        path, _, query = path_qs.partition("?")
        data = b"" if body is None else json.dumps(body).encode()
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SCRIPT_NAME": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "8888",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost:8888",
            "HTTP_AUTHORIZATION": AUTHORIZATION,
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        if body is not None:
            environ["CONTENT_TYPE"] = "application/json"
            environ["CONTENT_LENGTH"] = str(len(data))
        status: list[str] = []
        chunks = self.app(environ, lambda line, headers, exc_info=None: status.append(line))
        try:
            return status[0], b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()


def empty_database(args: argparse.Namespace) -> None:
    if args.backend == "postgresql":
        base = ["-h", "127.0.0.1", "-U", "postgres"]
        subprocess.run(["dropdb", *base, "--if-exists", "--force", args.database], check=True)
        subprocess.run(["createdb", *base, args.database], check=True)
    elif args.backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.sqlite_file}{suffix}").unlink(missing_ok=True)


def migrate(settings: dict[str, str], work: Path) -> None:
    ini = work / "list_cpu.ini"
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    ini.write_text(f"[app:main]\nuse = egg:kinto_clone\n{lines}")
    subprocess.run([sys.executable, "-m", "kinto_clone", "migrate", "--ini", str(ini)], check=True)


def seed(client: Client, args: argparse.Namespace) -> None:
    """``tasks`` as bench/run.py seeds it, then the planner's statistics."""
    for path in ("/v1/buckets/bench", "/v1/buckets/bench/collections/tasks"):
        assert client("PUT", path, {})[0].startswith("201")
    for start in range(0, RECORDS, BATCH):
        requests = [
            {
                "path": f"{TASKS[3:]}/{run.record_id('tasks', n)}",
                "body": {"data": run.seeded_record(n)},
            }
            for n in range(start, min(start + BATCH, RECORDS))
        ]
        body = {"defaults": {"method": "PUT"}, "requests": requests}
        assert client("POST", "/v1/batch", body)[0].startswith("200")
    if args.backend == "postgresql":
        analyze = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", args.database]
        subprocess.run([*analyze, "-qc", "VACUUM ANALYZE"], check=True)
    elif args.backend == "sqlite":
        with sqlite3.connect(args.sqlite_file) as connection:
            connection.execute("ANALYZE")


def workloads(client: Client) -> dict[str, str]:
    query = f"?_sort=-last_modified&_limit={SINCE_CHANGES + 1}&_fields=last_modified"
    newest = json.loads(client("GET", TASKS + query)[1])["data"]
    return {
        "list_page": f"{TASKS}?_limit={PAGE}",
        "list_filtered": f"{TASKS}?status=todo&_sort=-last_modified&_limit={PAGE}",
        "sync_since": f"{TASKS}?_since={newest[SINCE_CHANGES]['last_modified']}",
    }


def measure(client: Client, path: str, count: int, profile: Path | None) -> float:
    """Median CPU milliseconds per request (after a warm-up)."""
    for _ in range(30):
        status, _ = client("GET", path)
        assert status.startswith("200"), status
    profiler = cProfile.Profile(time.process_time) if profile else None
    spent = []
    for _ in range(count):
        start = time.process_time()
        if profiler:
            profiler.enable()
        client("GET", path)
        if profiler:
            profiler.disable()
        spent.append(time.process_time() - start)
    if profiler and profile:
        profiler.dump_stats(profile)
    return statistics.median(spent) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=sorted(MODULES), default="postgresql")
    parser.add_argument("--seed", action="store_true", help="seed the database first")
    parser.add_argument("--database", default="bench_list_cpu", help="PostgreSQL database")
    parser.add_argument("--sqlite-file", type=Path, default=Path("bench/.work/list_cpu.sqlite"))
    parser.add_argument("--requests", type=int, default=400, help="timed requests per workload")
    parser.add_argument("--profile", type=Path, help="write cProfile stats to PREFIX.<workload>")
    parser.add_argument("workloads", nargs="*", help="list_page, list_filtered, sync_since")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    work = args.sqlite_file.parent
    work.mkdir(parents=True, exist_ok=True)
    settings = settings_for(args)
    seeding = args.seed or args.backend == "memory"
    if seeding and args.backend != "memory":
        empty_database(args)
        migrate(settings, work)
    client = Client(kinto_clone.main({}, **settings))
    if seeding:
        seed(client, args)
    for name, path in workloads(client).items():
        if args.workloads and name not in args.workloads:
            continue
        profile = args.profile.with_name(f"{args.profile.name}.{name}") if args.profile else None
        cpu = measure(client, path, args.requests, profile)
        print(f"{args.backend:10} {name:14} {cpu:.3f} ms CPU per request (median)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
