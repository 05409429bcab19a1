"""Concurrent writers and a polling reader against one real ``kinto`` process,
per backend: the scenario of :mod:`tests.sync_scenario`."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.backends import AppBackend
from tests.server import StartServer
from tests.sync_scenario import check_concurrent_writes


def test_concurrent_posts_while_polling(
    app_backend: AppBackend, start_server: StartServer
) -> None:
    live_server = start_server(app_backend.settings)
    check_concurrent_writes([live_server.url])


BATCHES_PER_WRITER = 30


def test_batches_writing_collections_in_opposite_orders_never_deadlock(
    app_backend: AppBackend, start_server: StartServer
) -> None:
    """Each batch locks every collection it writes before its first write, in
    one order shared by all transactions: two batches writing ``c1`` then ``c2``
    and ``c2`` then ``c1`` wait for each other instead of deadlocking (on
    PostgreSQL a deadlock aborts one of them: a 503 to the client)."""
    live_server = start_server(app_backend.settings)
    auth = ("sync", "secret")
    base = f"{live_server.url}/v1/buckets/orders"
    with requests.Session() as setup:
        setup.auth = auth
        setup.put(base, timeout=10).raise_for_status()
        for collection in ("c1", "c2"):
            setup.put(f"{base}/collections/{collection}", timeout=10).raise_for_status()

    def write_batches(order: tuple[str, ...]) -> list[int]:
        statuses = []
        with requests.Session() as session:
            session.auth = auth
            for index in range(BATCHES_PER_WRITER):
                subrequests = [
                    {
                        "method": "POST",
                        "path": f"/buckets/orders/collections/{collection}/records",
                        "body": {"data": {"index": index}},
                    }
                    for collection in order
                    for _ in range(3)
                ]
                response = session.post(
                    f"{live_server.url}/v1/batch", json={"requests": subrequests}, timeout=60
                )
                statuses.append(response.status_code)
                if response.status_code == 200:
                    statuses.extend(r["status"] for r in response.json()["responses"])
        return statuses

    orders = [("c1", "c2"), ("c2", "c1")] * 2
    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        results = list(pool.map(write_batches, orders))

    assert Counter(status for statuses in results for status in statuses) == {
        200: len(orders) * BATCHES_PER_WRITER,
        201: len(orders) * BATCHES_PER_WRITER * 6,
    }
    with requests.Session() as check:
        check.auth = auth
        for collection in ("c1", "c2"):
            head = check.head(f"{base}/collections/{collection}/records", timeout=10)
            assert head.headers["Total-Objects"] == str(len(orders) * BATCHES_PER_WRITER * 3)
