"""Server CPU per request of the bench's workloads, without HTTP or a load generator.

``run.py`` measures req/s through waitress and ``wrk``, which on a shared 2-core
machine is noisy; this drives the same WSGI app (built from the ini ``run.py``
writes) in-process with WebTest, sends each workload's exact request a few hundred
times and reports ``time.process_time()`` per request (median and mean), so a change
that saves CPU shows even while other jobs run.  ``--profile NAME`` prints the
cProfile of one workload.  Run ``python bench/profile_requests.py --help``.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import run
import webtest

from kinto_clone import configuration

PROFILE_DB = f"profile_{run.CHECKOUT}"


def auth(user: tuple[str, str]) -> dict[str, str]:
    token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ALICE = auth(run.USER_A)
BOB = auth(run.USER_B)


def build_app(backend: str) -> webtest.TestApp:
    """The app of ``run.py``'s ini for ``backend``, on a fresh database."""
    run.WORK_DIR.mkdir(exist_ok=True)
    ini = run.WORK_DIR / f"profile-{backend}.ini"
    ini.write_text(run.render_ini(backend, 8))
    if backend == "postgresql":
        dsn = run.PG_DSN.format(db=PROFILE_DB)
        subprocess.run(
            ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", PROFILE_DB],
            check=True,
        )
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", PROFILE_DB], check=True)
        for kind in ("STORAGE", "PERMISSION", "CACHE"):
            os.environ[f"KINTO_{kind}_URL"] = dsn
    elif backend == "sqlite":
        db = run.WORK_DIR / "clone.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    if backend != "memory":
        subprocess.run(
            [*run.kinto_command("clone"), "migrate", "--ini", str(ini)],
            check=True,
            capture_output=True,
        )
    parsed = configuration.read_ini(ini, {"http_port": "8888"})
    configuration.setup_logging(parsed)
    return webtest.TestApp(configuration.make_app(parsed), lint=False)


def seed(app: webtest.TestApp, records: int) -> dict[str, str]:
    """The bench's fixture, smaller: bucket, scratch record, tasks, a record shared with B."""
    bob = app.get("/v1/", headers=BOB).json["user"]["id"]
    app.put_json(f"/v1/buckets/{run.BUCKET}", {}, headers=ALICE)
    for name in (run.SCRATCH, run.TASKS):
        app.put_json(f"/v1/buckets/{run.BUCKET}/collections/{name}", {}, headers=ALICE)
    scratch = app.post_json(run.records_path(run.SCRATCH), {"data": {"n": 0}}, headers=ALICE)
    tasks = run.records_path(run.TASKS)
    for start in range(0, records, 25):
        requests = [
            {"path": f"{tasks[3:]}/{uuid.uuid4()}", "body": {"data": {"n": n, "title": f"t{n}"}}}
            for n in range(start, min(start + 25, records))
        ]
        app.post_json(
            "/v1/batch", {"defaults": {"method": "PUT"}, "requests": requests}, headers=ALICE
        )
    shared = app.get(f"{tasks}?_limit=1", headers=ALICE).json["data"][0]["id"]
    app.put_json(
        f"/v1/buckets/{run.BUCKET}/groups/{run.GROUP}", {"data": {"members": [bob]}}, headers=ALICE
    )
    share = {"permissions": {"read": [f"/buckets/{run.BUCKET}/groups/{run.GROUP}"]}}
    app.patch_json(f"{tasks}/{shared}", share, headers=ALICE)
    return {"scratch": scratch.json["data"]["id"], "shared": shared}


def workloads(app: webtest.TestApp, fx: dict[str, str]) -> dict[str, Callable[[int], Any]]:
    """One callable per workload, sending the request its ``bench/wrk`` script sends."""
    scratch = run.records_path(run.SCRATCH)

    def task(n: int) -> str:
        # The bytes of bench/wrk/create.lua: json.dumps separates as it does.
        return json.dumps(
            {
                "data": {
                    "title": f"wrk task {n}",
                    "status": "todo",
                    "n": n,
                    "tags": ["bench", "wrk"],
                }
            }
        )

    def post(path: str, body: str, status: int) -> Callable[[], Any]:
        return app.post(
            path, body, headers={**ALICE, "Content-Type": "application/json"}, status=status
        )

    def create(n: int) -> Any:
        return post(scratch, task(n), 201)

    def default_bucket_create(n: int) -> Any:
        return post("/v1/buckets/default/collections/tasks/records", task(n), 201)

    def update(n: int) -> Any:
        body = json.dumps({"data": {"n": n, "status": "doing"}})
        return app.patch(
            f"{scratch}/{fx['scratch']}",
            body,
            headers={**ALICE, "Content-Type": "application/json"},
            status=200,
        )

    def batch_create(n: int) -> Any:
        requests = [
            {"body": {"data": {"title": f"wrk batch {i}", "status": "todo", "n": i}}}
            for i in range(n * 25, n * 25 + 25)
        ]
        defaults = {"method": "POST", "path": scratch[3:]}
        body = json.dumps({"defaults": defaults, "requests": requests})
        return post("/v1/batch", body, 200)

    def read_one(n: int) -> Any:
        return app.get(f"{run.records_path(run.TASKS)}/{fx['shared']}", headers=ALICE, status=200)

    def shared_read(n: int) -> Any:
        return app.get(f"{run.records_path(run.TASKS)}/{fx['shared']}", headers=BOB, status=200)

    def hello(n: int) -> Any:
        return app.get("/v1/", status=200)

    return {
        "read_one": read_one,
        "create": create,
        "update": update,
        "batch_create": batch_create,
        "shared_read": shared_read,
        "default_bucket_create": default_bucket_create,
        "hello": hello,
    }


def measure(call: Callable[[int], Any], count: int, start: int) -> list[float]:
    times = []
    for n in range(start, start + count):
        before = time.process_time()
        call(n)
        times.append(time.process_time() - before)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="memory", choices=("memory", "postgresql", "sqlite"))
    parser.add_argument("--count", type=int, default=300, help="requests per workload")
    parser.add_argument("--records", type=int, default=1000, help="records seeded in tasks")
    parser.add_argument("--only", nargs="*", help="workloads to run (default: all)")
    parser.add_argument("--profile", help="print the cProfile of this workload")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key")
    parser.add_argument("--lines", type=int, default=40)
    args = parser.parse_args()
    app = build_app(args.backend)
    fx = seed(app, args.records)
    calls = workloads(app, fx)
    names = args.only or list(calls)
    counter = 1_000_000
    if args.profile:
        call = calls[args.profile]
        measure(call, 30, counter)
        counter += 30
        profiler = cProfile.Profile()
        profiler.enable()
        measure(call, args.count, counter)
        profiler.disable()
        profiler.dump_stats(str(run.WORK_DIR / "profile.out"))
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
        return 0
    print(f"backend={args.backend} count={args.count} (CPU ms per request: median / mean)")
    for name in names:
        measure(calls[name], 30, counter)  # warm-up
        counter += 30
        times = measure(calls[name], args.count, counter)
        counter += args.count
        median = statistics.median(times) * 1000
        mean = statistics.fmean(times) * 1000
        print(f"{name:24s} {median:7.3f} / {mean:7.3f}  ({1000 / mean:7.0f} req/s)")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
