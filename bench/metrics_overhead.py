"""What metrics and the request summary log cost per request, in-process.

A memory-backend app reads one record (``GET .../records/r``, Basic auth) through
its WSGI callable, with no web server, in these set-ups: nothing on, Prometheus, StatsD
(sending to a UDP socket of this process), both, the request summary line written
at INFO (to a discarded stream), and all of them.  Rounds of timed
reads give CPU microseconds per request; the difference with
"nothing on" is the cost, also shown as a share of the plain read.

    .venv/bin/python bench/metrics_overhead.py [--requests 1000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import base64
import io
import logging
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

from webob import Request

import kinto_clone

RECORD = "/v1/buckets/b/collections/c/records/r"
AUTHORIZATION = "Basic " + base64.b64encode(b"alice:secret").decode()


def build(includes: str, statsd_url: str | None) -> Callable[..., Any]:
    settings = {
        "multiauth.policies": "basicauth",
        "kinto.userid_hmac_secret": "bench",
        "kinto.includes": includes,
    }
    if statsd_url:
        settings["kinto.statsd_url"] = statsd_url
    app = kinto_clone.main({}, **settings)
    for path, body in (
        ("/v1/buckets/b", b"{}"),
        ("/v1/buckets/b/collections/c", b"{}"),
        (RECORD, b'{"data": {"n": 1}}'),
    ):
        request = Request.blank(path, method="PUT", body=body)
        request.headers["Authorization"] = AUTHORIZATION
        request.content_type = "application/json"
        assert request.get_response(app).status_code in (200, 201)
    return app


def time_reads(app: Callable[..., Any], count: int) -> float:
    """Microseconds per read of the record."""
    environ = Request.blank(RECORD, headers={"Authorization": AUTHORIZATION}).environ

    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        assert status.startswith("200"), status

    # CPU time of this thread: the machine may be busy with other work, and time
    # spent waiting for a core is not a cost of the code measured.
    started = time.thread_time()
    for _ in range(count):
        for _chunk in app(dict(environ), start_response):
            pass
    return (time.thread_time() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    statsd_url = f"udp://127.0.0.1:{sink.getsockname()[1]}"
    summary = logging.getLogger("request.summary")
    summary.propagate = False
    summary.addHandler(logging.StreamHandler(io.StringIO()))

    setups = {
        "nothing on": ("", None, logging.WARNING),
        "prometheus": ("kinto.plugins.prometheus", None, logging.WARNING),
        "statsd": ("", statsd_url, logging.WARNING),
        "prometheus + statsd": ("kinto.plugins.prometheus", statsd_url, logging.WARNING),
        "summary log at INFO": ("", None, logging.INFO),
        "all of them": ("kinto.plugins.prometheus", statsd_url, logging.INFO),
    }
    apps = {name: build(includes, url) for name, (includes, url, _) in setups.items()}
    timings: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(args.rounds):
        for name, app in apps.items():
            summary.setLevel(setups[name][2])
            time_reads(app, args.requests // 10)  # Warm-up.
            timings[name].append(time_reads(app, args.requests))
            # Drain what StatsD sent, so the socket buffer never fills.
            sink.setblocking(False)
            try:
                while sink.recv(65535):
                    pass
            except BlockingIOError:
                pass
    # The best round is the least disturbed by other work on the machine; the
    # median shows how much that disturbance weighs.
    for label, summarise in (("best round", min), ("median round", statistics.median)):
        base = summarise(timings["nothing on"])
        print(f"{label + ':':<22} {'µs/request':>11} {'cost µs':>8} {'cost %':>7}")
        for name in setups:
            value = summarise(timings[name])
            cost = value - base
            print(f"  {name:<20} {value:>11.1f} {cost:>8.1f} {cost / base * 100:>6.1f}%")


if __name__ == "__main__":
    main()
