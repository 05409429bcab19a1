"""Concurrent writers and a polling reader against the real ``kinto`` process.

Eight threads each POST 200 records into one collection through waitress while
a reader polls ``?_since=<last ETag>`` like a sync client.  Every POST must
succeed the first time (no 409 to retry, no 5xx), timestamps must be unique and
increasing for each writer, and the reader must receive every record exactly
once: never a record twice, never one skipped.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.server import KintoServer

WRITERS = 8
POSTS_PER_WRITER = 200
AUTH = ("sync", "secret")


def write_records(url: str, writer: int) -> list[tuple[int, str, int]]:
    """POST the writer's records; return ``(status, id, last_modified)`` of each."""
    results = []
    with requests.Session() as session:
        session.auth = AUTH
        for index in range(POSTS_PER_WRITER):
            response = session.post(
                url, json={"data": {"writer": writer, "index": index}}, timeout=30
            )
            data = response.json().get("data", {}) if response.status_code == 201 else {}
            results.append((response.status_code, data.get("id"), data.get("last_modified")))
    return results


class Poller(threading.Thread):
    """Polls the collection with the ETag of its previous poll until told to stop."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.session = requests.Session()
        self.session.auth = AUTH
        self.since: str | None = None
        self.seen: Counter[str] = Counter()
        self.polls = 0
        self.errors: list[str] = []

    def poll(self) -> None:
        params = {"_limit": "50"}
        if self.since is not None:
            params["_since"] = self.since
        response = self.session.get(self.url, params=params, timeout=30)
        if response.status_code != 200:
            self.errors.append(f"{response.status_code} {response.text}")
            return
        etag = response.headers["ETag"].strip('"')
        while True:
            for record in response.json()["data"]:
                if self.since is not None and record["last_modified"] <= int(self.since):
                    self.errors.append(f"{record['id']} is older than _since={self.since}")
                self.seen[record["id"]] += 1
            next_page = response.headers.get("Next-Page")
            if not next_page:
                break
            response = self.session.get(next_page, timeout=30)
            if response.status_code != 200:
                self.errors.append(f"{response.status_code} {response.text}")
                return
        self.since = etag
        self.polls += 1

    def run(self) -> None:
        while not self.stop.is_set():
            self.poll()


def test_concurrent_posts_while_polling(live_server: KintoServer) -> None:
    base = f"{live_server.url}/v1/buckets/concurrency"
    setup = requests.Session()
    setup.auth = AUTH
    setup.put(base, timeout=10).raise_for_status()
    setup.put(f"{base}/collections/c", timeout=10).raise_for_status()
    records_url = f"{base}/collections/c/records"

    poller = Poller(records_url)
    poller.start()
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        futures = [pool.submit(write_records, records_url, w) for w in range(WRITERS)]
        results = [future.result() for future in futures]
    poller.stop.set()
    poller.join(timeout=60)
    poller.poll()  # Whatever was written after its last poll.
    poller.session.close()

    statuses = Counter(status for writer in results for status, _, _ in writer)
    assert statuses == {201: WRITERS * POSTS_PER_WRITER}
    for writer in results:
        timestamps = [last_modified for _, _, last_modified in writer]
        assert timestamps == sorted(timestamps)
    all_timestamps = [last_modified for writer in results for _, _, last_modified in writer]
    assert len(set(all_timestamps)) == WRITERS * POSTS_PER_WRITER

    created = {record_id for writer in results for _, record_id, _ in writer}
    assert poller.errors == []
    assert poller.polls > 1
    duplicates = {record_id: n for record_id, n in poller.seen.items() if n > 1}
    assert duplicates == {}
    assert set(poller.seen) == created

    listing = setup.get(records_url, timeout=30)
    assert listing.headers["ETag"] == f'"{max(all_timestamps)}"'
    head = setup.head(records_url, timeout=30)
    setup.close()
    assert head.headers["Total-Objects"] == str(WRITERS * POSTS_PER_WRITER)
