"""The sync scenario of the concurrency tests, against one or several servers.

Eight writers POST 200 records each into one collection, through every server
in turn, while a reader follows ``?_since=<last ETag>`` like a sync client,
asking a different server at each poll.  Every POST must succeed the first time
(no 409 to retry, no 5xx), timestamps must be unique and increase for each
writer, and the reader must receive every record exactly once: never a record
twice, never one skipped.  ``tests/functional/test_concurrency.py`` runs it
against one process per backend, ``tests/test_multiprocess.py`` against
several processes sharing one database.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

WRITERS = 8
POSTS_PER_WRITER = 200
AUTH = ("sync", "secret")
TIMEOUT = 30
POLL_PAUSE = 0.02


def write_records(urls: list[str], writer: int) -> list[tuple[int, str | None, int | None]]:
    """POST the writer's records, through each server in turn.

    Returns ``(status, id, last_modified)`` for each; a request that failed
    without a response counts as status 0.
    """
    sessions = [requests.Session() for _ in urls]
    results = []
    try:
        for index in range(POSTS_PER_WRITER):
            turn = (writer + index) % len(urls)
            session = sessions[turn]
            session.auth = AUTH
            body = {"data": {"writer": writer, "index": index}}
            try:
                response = session.post(urls[turn], json=body, timeout=TIMEOUT)
            except requests.RequestException:
                results.append((0, None, None))
                continue
            data = response.json().get("data", {}) if response.status_code == 201 else {}
            results.append((response.status_code, data.get("id"), data.get("last_modified")))
    finally:
        for session in sessions:
            session.close()
    return results


class Poller(threading.Thread):
    """Follows the collection with the ETag of each poll as the next ``_since``,
    asking the servers in turn, until told to stop."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(daemon=True)
        self.urls = urls
        self.stop = threading.Event()
        self.session = requests.Session()
        self.session.auth = AUTH
        self.since: str | None = None
        self.seen: Counter[str] = Counter()
        self.polls = 0
        self.errors: list[str] = []

    def get(self, url: str, **params: str) -> requests.Response | None:
        try:
            response = self.session.get(url, params=params, timeout=TIMEOUT)
        except requests.RequestException as error:
            self.errors.append(f"GET {url}: {error}")
            return None
        if response.status_code != 200:
            self.errors.append(f"GET {url}: {response.status_code} {response.text}")
            return None
        return response

    def poll(self) -> None:
        params = {"_limit": "50"}
        if self.since is not None:
            params["_since"] = self.since
        response = self.get(self.urls[self.polls % len(self.urls)], **params)
        if response is None:
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
            response = self.get(next_page)
            if response is None:
                return
        self.since = etag
        self.polls += 1

    def run(self) -> None:
        # A short pause between polls leaves the two-core CI machines to the
        # writers; polls still interleave with hundreds of commits.
        while not self.stop.wait(POLL_PAUSE) and len(self.errors) < 10:
            self.poll()


def check_concurrent_writes(server_urls: list[str]) -> None:
    """The scenario of the module docstring, through the servers at ``server_urls``
    (one or several processes sharing their data)."""
    base = f"{server_urls[0]}/v1/buckets/concurrency"
    with requests.Session() as setup:
        setup.auth = AUTH
        setup.put(base, timeout=TIMEOUT).raise_for_status()
        setup.put(f"{base}/collections/c", timeout=TIMEOUT).raise_for_status()
    path = "/v1/buckets/concurrency/collections/c/records"
    urls = [server_url + path for server_url in server_urls]

    poller = Poller(urls)
    poller.start()
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(pool.map(lambda writer: write_records(urls, writer), range(WRITERS)))
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
    assert poller.polls > len(urls)
    duplicates = {record_id: n for record_id, n in poller.seen.items() if n > 1}
    assert duplicates == {}
    assert set(poller.seen) == created

    for url in urls:
        head = requests.head(url, auth=AUTH, timeout=TIMEOUT)
        assert head.headers["ETag"] == f'"{max(all_timestamps)}"'
        assert head.headers["Total-Objects"] == str(WRITERS * POSTS_PER_WRITER)
