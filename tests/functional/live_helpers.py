"""Reading a live event stream of an in-process app, for the live-change tests.

WebTest reads a whole response body, which an event stream never ends; here
the WSGI app is called directly and its body iterated by a thread of its own
(as waitress would), which parses the events into a queue the test reads with
a timeout.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from typing import Any

import webob
import webtest


@dataclass
class Event:
    kind: str
    id: str | None
    data: Any


def parse_events(text: str) -> tuple[list[Event], str]:
    """The complete events of ``text``, and what is left of an incomplete one."""
    events = []
    *blocks, rest = text.split("\n\n")
    for block in blocks:
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "data" not in fields:
            continue
        try:
            data = json.loads(fields["data"])
        except ValueError:
            data = fields["data"]
        events.append(Event(fields.get("event", "message"), fields.get("id"), data))
    return events, rest


class EventStreamReader:
    """The events of ``GET path`` with ``Accept: text/event-stream``."""

    def __init__(self, app: webtest.TestApp, path: str, headers: dict[str, str]) -> None:
        request = webob.Request.blank(path, headers={"Accept": "text/event-stream", **headers})
        self.status, self.headers, self._body = request.call_application(app.app)
        self.events: queue.Queue[Event | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        if self.status.startswith("200"):
            self._thread.start()
        else:
            self.error_body = json.loads(b"".join(self._body))

    def _read(self) -> None:
        pending = ""
        try:
            for chunk in self._body:
                events, pending = parse_events(pending + chunk.decode())
                for event in events:
                    self.events.put(event)
                if self._stop.is_set():
                    break
        finally:
            self.events.put(None)  # The stream ended.
            close = getattr(self._body, "close", None)
            if close is not None:
                close()

    def next(self, timeout: float = 5.0) -> Event | None:
        """The next event; ``None`` once the stream has ended.  Fails on timeout."""
        return self.events.get(timeout=timeout)

    def take(self, count: int, timeout: float = 5.0) -> list[Event]:
        events = []
        for _ in range(count):
            event = self.next(timeout)
            assert event is not None, f"stream ended after {events}"
            events.append(event)
        return events

    def assert_silent(self, seconds: float) -> None:
        try:
            event = self.events.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected event {event}")

    def close(self) -> None:
        """Stop reading at the next chunk (a heartbeat at the latest)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
