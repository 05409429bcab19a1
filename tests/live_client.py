"""An event stream client over HTTP (``requests``), for process tests and benchmarks."""

from __future__ import annotations

import queue
import threading
import time

import requests

from tests.functional.live_helpers import Event, parse_events


class HTTPEventStream(threading.Thread):
    """Reads ``url`` as ``text/event-stream`` in a thread; events go to a queue
    with their arrival time (``time.monotonic()``)."""

    def __init__(
        self, url: str, auth: tuple[str, str] | None, headers: dict | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.session = requests.Session()
        self.session.auth = auth
        self.response = self.session.get(
            url,
            headers={"Accept": "text/event-stream", **(headers or {})},
            stream=True,
            timeout=(5, 60),
        )
        self.response.raise_for_status()
        self.events: queue.Queue[tuple[float, Event]] = queue.Queue()
        self.closed = threading.Event()
        self.start()

    def run(self) -> None:
        pending = ""
        try:
            for chunk in self.response.iter_content(chunk_size=None):
                if self.closed.is_set():
                    break
                arrival = time.monotonic()
                events, pending = parse_events(pending + chunk.decode())
                for event in events:
                    self.events.put((arrival, event))
        except (requests.RequestException, OSError, ValueError, AttributeError):
            pass  # Closed by close(), or by the server.
        finally:
            self.closed.set()

    def drain(self, count: int, timeout: float) -> list[Event]:
        """Up to ``count`` events, waiting at most ``timeout`` seconds in all."""
        deadline = time.monotonic() + timeout
        received = []
        while len(received) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                received.append(self.events.get(timeout=remaining)[1])
            except queue.Empty:
                break
        return received

    def close(self) -> None:
        self.closed.set()
        self.response.close()
        self.session.close()
