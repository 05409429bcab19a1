"""Loopback receivers standing in for monitoring services: Sentry and StatsD.

Each runs in a thread of the test process and keeps what it received, so a test
can start a real ``kinto`` process pointed at it and read what the server sent.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(produce: Callable[[], T | None], timeout: float = 10.0) -> T:
    """Poll ``produce`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = produce()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"nothing arrived within {timeout}s")


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # Only if sentry-sdk found it installed.

        return brotli.decompress(body)
    return body


class SentryCapture:
    """An HTTP server recording the envelopes a Sentry SDK POSTs to it.

    ``dsn`` points an SDK at it; ``items()`` are the JSON items of every envelope
    received so far (events, messages...), with their envelope item headers.
    """

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = _decode(self.rfile.read(length), self.headers.get("Content-Encoding", ""))
                capture.envelopes.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"

    def items(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """``(item header, item payload)`` of each JSON item received."""
        items = []
        for envelope in list(self.envelopes):
            lines = envelope.split(b"\n")[1:]  # The first line is the envelope header.
            for header_line, payload in zip(lines[::2], lines[1::2], strict=False):
                if not header_line.strip():
                    continue
                header = json.loads(header_line)
                try:
                    items.append((header, json.loads(payload)))
                except ValueError:
                    continue
        return items

    def events(self) -> list[dict[str, Any]]:
        return [payload for header, payload in self.items() if header.get("type") == "event"]

    def __enter__(self) -> SentryCapture:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class StatsDCapture:
    """A UDP socket receiving StatsD packets; ``lines()`` are the metrics so far."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.received: list[str] = []

    @property
    def url(self) -> str:
        return f"udp://127.0.0.1:{self.sock.getsockname()[1]}"

    def lines(self) -> list[str]:
        while True:
            try:
                packet = self.sock.recv(65535)
            except TimeoutError:
                return self.received
            self.received.extend(packet.decode("ascii").splitlines())

    def __enter__(self) -> StatsDCapture:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()
