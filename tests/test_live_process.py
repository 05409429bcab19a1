"""Live changes on a real ``kinto start`` (waitress): held requests keep threads
of their own, and the subscriber bound answers 503 with ``Retry-After``."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import waitress

import kinto_clone
from kinto_clone.core.live.serving import ParkingMap
from tests.live_client import HTTPEventStream
from tests.server import StartServer, free_port

pytestmark = pytest.mark.process

AUTH = ("live", "secret")
RECORDS = "/v1/buckets/b/collections/c/records"


def test_held_requests_leave_the_ordinary_threads_free(start_server: StartServer) -> None:
    # waitress's 4 threads, plus one per subscriber: 4 subscribers held here.
    # A heartbeat each second: a closed stream frees its thread within a second.
    settings = {"kinto.live_max_subscribers": "4", "kinto.live_heartbeat_seconds": "1"}
    server = start_server(settings)
    requests.put(f"{server.url}/v1/buckets/b", auth=AUTH, timeout=10).raise_for_status()
    requests.put(f"{server.url}/v1/buckets/b/collections/c", auth=AUTH, timeout=10)
    url = server.url + RECORDS
    streams = [HTTPEventStream(url, AUTH) for _ in range(2)]
    etag = requests.get(url, auth=AUTH, timeout=10).headers["ETag"]
    polls: list[requests.Response] = []

    def long_poll() -> None:
        headers = {"If-None-Match": etag, "Prefer": "wait=20"}
        polls.append(requests.get(url, auth=AUTH, headers=headers, timeout=30))

    pollers = [threading.Thread(target=long_poll) for _ in range(2)]
    try:
        for poller in pollers:
            poller.start()
        time.sleep(1)  # All four held.
        refused = requests.get(url, auth=AUTH, headers={"Accept": "text/event-stream"}, timeout=10)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"]
        assert refused.json()["errno"] == 201

        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            reads = list(pool.map(lambda _: requests.get(url, auth=AUTH, timeout=10), range(16)))
        assert all(read.status_code == 200 for read in reads)
        assert time.monotonic() - start < 5

        created = requests.post(url, json={"data": {"n": 1}}, auth=AUTH, timeout=10).json()
        for poller in pollers:
            poller.join(timeout=10)
        assert [poll.status_code for poll in polls] == [200, 200]
        assert all(poll.headers["Preference-Applied"] == "wait=20" for poll in polls)
        for stream in streams:
            (event,) = stream.drain(1, timeout=10)
            assert event.data == created["data"]
    finally:
        for stream in streams:
            stream.close()


@contextmanager
def parked_streams(count: int) -> Iterator[tuple[str, ParkingMap, Any, list[socket.socket]]]:
    """A waitress server of a memory-backed app in this process, and ``count``
    event streams on its records, parked: ``(base url, socket map, app, streams)``."""
    settings = {
        f"kinto.{k}_backend": f"kinto.core.{k}.memory" for k in ("storage", "permission", "cache")
    }
    settings.update({"kinto.userid_hmac_secret": "x", "multiauth.policies": "basicauth"})
    app = kinto_clone.main({}, **settings)
    socket_map = ParkingMap()
    port = free_port()
    server = waitress.create_server(app, map=socket_map, host="127.0.0.1", port=port, threads=8)

    def serve() -> None:
        # Closing the server under its running loop can leave the loop one
        # select() on closed descriptors: that is the end of serving, not an error.
        with contextlib.suppress(OSError):
            server.run()

    loop = threading.Thread(target=serve, daemon=True)
    loop.start()
    base = f"http://127.0.0.1:{port}"
    try:
        requests.put(f"{base}/v1/buckets/b", auth=AUTH, timeout=10).raise_for_status()
        requests.put(f"{base}/v1/buckets/b/collections/c", auth=AUTH, timeout=10)
        token = base64.b64encode(":".join(AUTH).encode()).decode()
        request = (
            f"GET {RECORDS} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
            f"Authorization: Basic {token}\r\n\r\n"
        ).encode()
        streams = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
        for stream in streams:
            stream.sendall(request)
        deadline = time.monotonic() + 5
        while len(socket_map.parked) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        yield base, socket_map, app, streams
    finally:
        # Tasks first (they pull the loop's trigger), then the sockets.
        server.task_dispatcher.shutdown(timeout=5)
        server.close()
        loop.join(timeout=5)


def _receive_until(stream: socket.socket, expected: bytes) -> None:
    received = b""
    while expected not in received:
        received += stream.recv(65536)


def test_waiting_streams_are_parked_out_of_the_event_loop() -> None:
    """In a real waitress server, a waiting stream is hidden from the loop and
    comes back to write its events."""
    with parked_streams(3) as (base, socket_map, _, streams):
        assert len(socket_map.parked) == 3
        requests.post(f"{base}{RECORDS}", json={"data": {"n": 1}}, auth=AUTH, timeout=10)
        for stream in streams:
            _receive_until(stream, b'"n":1')
        for stream in streams:
            stream.close()


def test_a_client_closing_its_stream_frees_its_place_at_once() -> None:
    """A parked stream whose client leaves ends without waiting for a heartbeat
    (15 s here) to find the socket closed: its place and thread are free."""
    with parked_streams(2) as (base, _, app, streams):
        hub = app.registry.live_hub
        assert hub.subscriber_count == 2
        streams[0].close()
        deadline = time.monotonic() + 2
        while hub.subscriber_count > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.subscriber_count == 1
        # The other stream still gets its events.
        requests.post(f"{base}{RECORDS}", json={"data": {"n": 1}}, auth=AUTH, timeout=10)
        _receive_until(streams[1], b'"n":1')
        streams[1].close()
