"""What a SQLite server acknowledged survives its crash, and batches stay atomic.

A server killed with SIGKILL gets no clean shutdown: whatever it had not
committed and synced to the file when it answered is lost.  Clients stream
single POSTs and ``/batch`` requests of 25 creations (each record tagged with
its batch) and note which writes were acknowledged (a 2xx received); the
server is killed at a random moment of the stream, then restarted on the same
file.  Every acknowledged write must be there, and every batch must be
entirely present or entirely absent: a batch is one transaction.  Several
rounds run on the same file, each also checking that a file left by a crash is
usable at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.server import KintoServer, StartServer, write_ini

pytestmark = pytest.mark.process

AUTH = ("crash", "test")
CLIENTS = 3
BATCH_SIZE = 25
MIN_ROUNDS, MAX_ROUNDS = 2, 4
# New rounds start only within this many seconds, to keep the test short.
TIME_BUDGET = 15.0
COLLECTION = "/v1/buckets/crash/collections/c"
RECORDS = f"{COLLECTION}/records"


class Client(threading.Thread):
    """Alternates single POSTs and batches until the server stops answering.

    ``acknowledged_singles`` maps the id of each acknowledged single record to
    its tag; ``acknowledged_batches`` holds the tags of the batches whose every
    creation was acknowledged.
    """

    def __init__(self, url: str, name: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.name = name
        self.acknowledged_singles: dict[str, str] = {}
        self.acknowledged_batches: set[str] = set()
        self.unexpected: list[str] = []

    def run(self) -> None:
        with requests.Session() as session:
            session.auth = AUTH
            sequence = 0
            while True:
                sequence += 1
                tag = f"{self.name}-{sequence}"
                try:
                    if sequence % 2:
                        self.post_single(session, tag)
                    else:
                        self.post_batch(session, tag)
                except requests.RequestException:
                    return  # The server is gone.

    def post_single(self, session: requests.Session, tag: str) -> None:
        response = session.post(self.url + RECORDS, json={"data": {"single": tag}}, timeout=10)
        if response.status_code == 201:
            self.acknowledged_singles[response.json()["data"]["id"]] = tag
        else:
            self.unexpected.append(f"POST {tag}: {response.status_code} {response.text}")

    def post_batch(self, session: requests.Session, tag: str) -> None:
        body = {
            "defaults": {"method": "POST", "path": RECORDS},
            "requests": [
                {"body": {"data": {"batch": tag, "position": position}}}
                for position in range(BATCH_SIZE)
            ],
        }
        response = session.post(self.url + "/v1/batch", json=body, timeout=10)
        statuses = [r["status"] for r in response.json()["responses"]] if response.ok else []
        if statuses == [201] * BATCH_SIZE:
            self.acknowledged_batches.add(tag)
        else:
            self.unexpected.append(f"batch {tag}: {response.status_code} {statuses}")


def all_records(server: KintoServer) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    url: str | None = server.url + RECORDS + "?_limit=5000"
    while url:
        response = requests.get(url, auth=AUTH, timeout=30)
        response.raise_for_status()
        records += response.json()["data"]
        url = response.headers.get("Next-Page")
    return records


def stream_then_kill(server: KintoServer, round_number: int, delay: float) -> list[Client]:
    clients = [Client(server.url, f"r{round_number}c{n}") for n in range(CLIENTS)]
    for client in clients:
        client.start()
    time.sleep(delay)
    server.kill()
    for client in clients:
        client.join(timeout=15)
        assert not client.is_alive(), f"{client.name} still waits for the killed server"
    return clients


def test_acknowledged_writes_survive_sigkill(tmp_path: Path, start_server: StartServer) -> None:
    url = f"sqlite:///{tmp_path / 'kinto.db'}"
    ini_path = write_ini(
        tmp_path / "kinto.ini",
        {
            "kinto.storage_backend": "kinto_clone.core.storage.sqlite",
            "kinto.storage_url": url,
            "kinto.permission_backend": "kinto_clone.core.permission.sqlite",
            "kinto.permission_url": url,
            "kinto.cache_backend": "kinto_clone.core.cache.sqlite",
            "kinto.cache_url": url,
        },
    )
    server = start_server(ini_path=ini_path)
    requests.put(server.url + "/v1/buckets/crash", auth=AUTH, timeout=10).raise_for_status()
    requests.put(server.url + COLLECTION, auth=AUTH, timeout=10).raise_for_status()

    singles: dict[str, str] = {}
    batches: set[str] = set()
    started = time.monotonic()
    rounds = 0
    while rounds < MIN_ROUNDS or (
        rounds < MAX_ROUNDS and time.monotonic() - started < TIME_BUDGET
    ):
        rounds += 1
        clients = stream_then_kill(server, rounds, delay=random.uniform(1.0, 2.0))
        for client in clients:
            assert client.unexpected == []
            singles.update(client.acknowledged_singles)
            batches |= client.acknowledged_batches
        server = start_server(ini_path=ini_path)

        records = all_records(server)
        present_singles = {r["id"]: r["single"] for r in records if "single" in r}
        missing_singles = {i: tag for i, tag in singles.items() if present_singles.get(i) != tag}
        assert missing_singles == {}, f"round {rounds}: acknowledged, then lost"
        batch_sizes = Counter(r["batch"] for r in records if "batch" in r)
        assert {tag for tag in batches if batch_sizes[tag] != BATCH_SIZE} == set()
        partial = {tag: n for tag, n in batch_sizes.items() if n != BATCH_SIZE}
        assert partial == {}, f"round {rounds}: batches partly written"
    assert singles, "no write was acknowledged: the test proves nothing"
    assert batches, "no batch was acknowledged: the test proves nothing"
