"""The ``live`` workload of ``make bench`` (issue 18), for kinto_clone's servers.

Two measures, standard library only like ``run.py``:

* **Latency**: 100 event-stream subscribers on one collection while one
  writer POSTs records at a steady pace; the latency of a delivery is the
  time from sending the POST (an upper bound of its commit) to the arrival of
  its event at a subscriber.  p50 and p99 over every (record, subscriber).
* **Capacity**: ``read_one`` and ``create`` with wrk, with no subscriber,
  then with 1,000 idle subscribers (streams open on another collection,
  nothing written there), as a ratio to none; the server's CPU time per
  request likewise, and how much its resident memory grows when they open.
  The idle streams are raw sockets that sent their request and read their
  headers: they cost the bench process nothing while wrk runs.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
BUCKET = "bench"
LATENCY_COLLECTION = "live"
IDLE_COLLECTION = "live-idle"
SUBSCRIBERS = 100
IDLE_SUBSCRIBERS = 1_000
WRITES = 200
WRITES_PER_SECOND = 20
DELIVERY_TIMEOUT = 30.0


def _authorization(user: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


def _stream_request(path: str, user: tuple[str, str]) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n"
        f"Authorization: {_authorization(user)}\r\n\r\n"
    ).encode()


def _records(collection: str) -> str:
    return f"/v1/buckets/{BUCKET}/collections/{collection}/records"


def _put(port: int, user: tuple[str, str], path: str) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        headers = {"Authorization": _authorization(user), "Content-Type": "application/json"}
        conn.request("PUT", path, body=b"{}", headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"PUT {path}: HTTP {response.status}")
    finally:
        conn.close()


def _open_stream(port: int, path: str, user: tuple[str, str]) -> socket.socket:
    """A socket whose event stream has started (status line and headers read)."""
    sock = socket.create_connection((HOST, port), timeout=30)
    sock.sendall(_stream_request(path, user))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError(f"stream {path} closed before its headers")
        head += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        status_line = head.split(b"\r\n", 1)[0].decode()
        raise RuntimeError(f"stream {path}: {status_line}")
    return sock


class _Subscriber(threading.Thread):
    """Reads one stream; records the arrival time of each record id."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.arrivals: dict[str, float] = {}

    def run(self) -> None:
        pending = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                now = time.monotonic()
                pending += chunk
                # Chunked transfer encoding: the event lines are found whole
                # inside the chunks, which is all this parser needs.
                while b"\n\n" in pending:
                    block, pending = pending.split(b"\n\n", 1)
                    for line in block.split(b"\n"):
                        if line.startswith(b"data: "):
                            data = json.loads(line[6:])
                            self.arrivals.setdefault(data["id"], now)
        except OSError:
            return


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_latency(port: int, user: tuple[str, str]) -> dict[str, Any]:
    """Commit-to-delivery latency with :data:`SUBSCRIBERS` subscribers."""
    _put(port, user, f"/v1/buckets/{BUCKET}/collections/{LATENCY_COLLECTION}")
    path = _records(LATENCY_COLLECTION)
    subscribers = [_Subscriber(_open_stream(port, path, user)) for _ in range(SUBSCRIBERS)]
    for subscriber in subscribers:
        subscriber.start()
    sent: dict[str, float] = {}
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Authorization": _authorization(user), "Content-Type": "application/json"}
    try:
        for n in range(WRITES):
            due = n / WRITES_PER_SECOND
            started = time.monotonic()
            if n == 0:
                origin = started
            pause = origin + due - started
            if pause > 0:
                time.sleep(pause)
            record_id = f"live-{n:05d}-{int(time.time() * 1000)}"
            body = json.dumps({"data": {"id": record_id, "n": n}}).encode()
            sent[record_id] = time.monotonic()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                raise RuntimeError(f"POST {path}: HTTP {response.status}")
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while time.monotonic() < deadline:
            if all(len(s.arrivals) >= len(sent) for s in subscribers):
                break
            time.sleep(0.05)
    finally:
        conn.close()
        for subscriber in subscribers:
            subscriber.sock.close()
    latencies = [
        (subscriber.arrivals[record_id] - sent_at) * 1000
        for subscriber in subscribers
        for record_id, sent_at in sent.items()
        if record_id in subscriber.arrivals
    ]
    expected = len(sent) * len(subscribers)
    return {
        "subscribers": len(subscribers),
        "writes": len(sent),
        "delivered": len(latencies),
        "expected": expected,
        "p50_ms": _percentile(latencies, 0.50) if latencies else float("nan"),
        "p99_ms": _percentile(latencies, 0.99) if latencies else float("nan"),
    }


@contextmanager
def idle_subscribers(port: int, user: tuple[str, str], count: int) -> Iterator[int]:
    """``count`` streams open on a collection nobody writes to."""
    _put(port, user, f"/v1/buckets/{BUCKET}/collections/{IDLE_COLLECTION}")
    path = _records(IDLE_COLLECTION)
    sockets = []
    try:
        for _ in range(count):
            sockets.append(_open_stream(port, path, user))
        yield len(sockets)
    finally:
        for sock in sockets:
            sock.close()


class ServerProcess:
    """CPU time and memory of the server process, read from ``/proc`` (Linux).

    Throughput ratios on a shared machine move with the other load; the CPU
    time the server spends per request barely does, so it is reported too.
    """

    def __init__(self, pid: int) -> None:
        self._pid = pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self._pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self._pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


def measure_capacity(
    port: int,
    user: tuple[str, str],
    throughput: Callable[[str], float],
    rounds: int,
    server: ServerProcess,
) -> dict[str, Any]:
    """``throughput(workload)`` (requests/s, from wrk, for ``duration`` s) with and
    without idle streams, alternating ``rounds`` times: medians and ratios of the
    requests/s and of the server's CPU time per request; and the server's
    resident memory with and without the idle streams."""
    measures: dict[str, dict[str, list[tuple[float, float]]]] = {"none": {}, "idle": {}}

    def measure(phase: str, workload: str) -> None:
        cpu_before, started = server.cpu_seconds(), time.monotonic()
        rps = throughput(workload)
        cpu_per_request = (server.cpu_seconds() - cpu_before) / max(
            rps * (time.monotonic() - started), 1
        )
        measures[phase].setdefault(workload, []).append((rps, cpu_per_request))

    rss_growth = []
    for _ in range(rounds):
        for workload in ("read_one", "create"):
            measure("none", workload)
        rss_before = server.rss_kib()
        with idle_subscribers(port, user, IDLE_SUBSCRIBERS):
            rss_growth.append(server.rss_kib() - rss_before)
            for workload in ("read_one", "create"):
                measure("idle", workload)
    result: dict[str, Any] = {"idle_subscribers": IDLE_SUBSCRIBERS}
    for workload in ("read_one", "create"):
        none, idle = measures["none"][workload], measures["idle"][workload]
        result[workload] = {
            "none_rps": statistics.median(rps for rps, _ in none),
            "idle_rps": statistics.median(rps for rps, _ in idle),
            "ratio": statistics.median(i[0] / n[0] for n, i in zip(none, idle, strict=True)),
            "none_cpu_us": statistics.median(cpu for _, cpu in none) * 1e6,
            "idle_cpu_us": statistics.median(cpu for _, cpu in idle) * 1e6,
            "cpu_ratio": statistics.median(n[1] / i[1] for n, i in zip(none, idle, strict=True)),
        }
    result["rss_kib"] = server.rss_kib()
    # The first opening: later ones reuse memory the allocator kept.
    result["rss_growth_kib"] = max(rss_growth)
    return result


def render(label: str, latency: dict[str, Any], capacity: dict[str, Any]) -> list[str]:
    """Markdown lines of the live results of one server."""
    lines = [
        f"### live: {label}",
        "",
        f"{latency['subscribers']} subscribers, {latency['writes']} POSTs at "
        f"{WRITES_PER_SECOND}/s: {latency['delivered']}/{latency['expected']} deliveries, "
        f"commit-to-delivery p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms "
        "(goal: p99 under 50 ms).",
        "",
        f"| workload | no subscriber | {capacity['idle_subscribers']:,} idle subscribers "
        "| ratio | server CPU per request: none / idle | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for workload in ("read_one", "create"):
        measure = capacity[workload]
        lines.append(
            f"| {workload} | {measure['none_rps']:,.0f} req/s | {measure['idle_rps']:,.0f} req/s "
            f"| {measure['ratio']:.2f} | {measure['none_cpu_us']:,.0f} / "
            f"{measure['idle_cpu_us']:,.0f} µs | {measure['cpu_ratio']:.2f} |"
        )
    growth = capacity["rss_growth_kib"]
    per_subscriber = growth / capacity["idle_subscribers"]
    lines += [
        "",
        "Ratios: the median over rounds of idle / none, each pair measured back to back "
        "(CPU ratio: none / idle CPU time per request, so > 0.9 is the goal as well).",
        f"Server resident memory: {capacity['rss_kib'] / 1024:,.0f} MiB at the end; opening "
        f"{capacity['idle_subscribers']:,} idle subscribers adds {growth / 1024:,.1f} MiB "
        f"(the first time): {per_subscriber:,.1f} KiB per subscriber.",
    ]
    return [*lines, ""]
