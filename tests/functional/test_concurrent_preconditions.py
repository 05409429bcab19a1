"""Concurrent conditional writes against the real ``kinto`` process.

Clients that edit offline send ``If-Match`` with the version they started
from; when several send the same version at once, exactly one may win and the
others must get a 412, otherwise an edit is silently lost.
"""

from __future__ import annotations

import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.server import KintoServer, kinto_command

CONTENDERS = 8
AUTH = ("editor", "secret")


def _backend_settings(kind: str, request: pytest.FixtureRequest, folder: Path) -> dict:
    if kind == "memory":
        return {}
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'kinto.db'}"
        prefix = "kinto_clone.core"
    else:
        url = request.getfixturevalue("postgresql_url")
        prefix = "kinto.core"
    settings = {}
    for backend in ("storage", "permission", "cache"):
        settings[f"kinto.{backend}_backend"] = f"{prefix}.{backend}.{kind}"
        settings[f"kinto.{backend}_url"] = url
    return settings


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, start_server, tmp_path: Path) -> KintoServer:
    settings = _backend_settings(request.param, request, tmp_path)
    server = start_server(settings) if request.param != "postgresql" else None
    if server is None:
        # The schema must exist before the server starts on PostgreSQL.
        from tests.server import write_ini

        ini = write_ini(tmp_path / "migrate.ini", settings)
        subprocess.run([*kinto_command(), "migrate", "--ini", str(ini)], check=True, timeout=60)
        server = start_server(ini_path=ini)
    return server


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_one_winner_among_identical_if_match(server: KintoServer, method: str) -> None:
    collection = f"{server.url}/v1/buckets/race/collections/{method.lower()}"
    requests.put(f"{server.url}/v1/buckets/race", json={}, auth=AUTH, timeout=10)
    assert requests.put(collection, json={}, auth=AUTH, timeout=10).ok
    base = f"{collection}/records"
    created = requests.post(base, json={"data": {"n": 0}}, auth=AUTH, timeout=10)
    assert created.status_code == 201
    record = created.json()["data"]
    url = f"{base}/{record['id']}"
    etag = f'"{record["last_modified"]}"'
    start = threading.Barrier(CONTENDERS)

    def contend(index: int) -> int:
        start.wait()
        body = None if method == "DELETE" else {"data": {"n": index}}
        response = requests.request(
            method, url, json=body, headers={"If-Match": etag}, auth=AUTH, timeout=30
        )
        return response.status_code

    with ThreadPoolExecutor(CONTENDERS) as pool:
        statuses = list(pool.map(contend, range(CONTENDERS)))

    # Losers see the new version (412), or no object at all after a delete
    # (404, as Kinto answers a DELETE of a missing object before preconditions).
    loser_status = 404 if method == "DELETE" else 412
    assert statuses.count(200) == 1, statuses
    assert statuses.count(loser_status) == CONTENDERS - 1, statuses


PATCHES_PER_WRITER = 10


def test_concurrent_patches_of_one_record_lose_no_update(server: KintoServer) -> None:
    """Each PATCH applies to the latest committed version: on PostgreSQL it is
    read without the lock, and one that finds it changed at its write runs
    again, never answering a 409 nor writing over the other's change."""
    collection = f"{server.url}/v1/buckets/race/collections/patches"
    requests.put(f"{server.url}/v1/buckets/race", json={}, auth=AUTH, timeout=10)
    assert requests.put(collection, json={}, auth=AUTH, timeout=10).ok
    url = f"{collection}/records/shared"
    assert requests.put(url, json={"data": {}}, auth=AUTH, timeout=10).status_code == 201
    start = threading.Barrier(CONTENDERS)

    def contend(index: int) -> list[int]:
        start.wait()
        statuses = []
        with requests.Session() as session:
            session.auth = AUTH
            for n in range(PATCHES_PER_WRITER):
                response = session.patch(url, json={"data": {f"w{index}_{n}": n}}, timeout=30)
                statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(CONTENDERS) as pool:
        statuses = [status for each in pool.map(contend, range(CONTENDERS)) for status in each]

    assert set(statuses) == {200}, statuses
    data = requests.get(url, auth=AUTH, timeout=10).json()["data"]
    expected = {f"w{i}_{n}" for i in range(CONTENDERS) for n in range(PATCHES_PER_WRITER)}
    assert expected <= set(data), sorted(expected - set(data))
