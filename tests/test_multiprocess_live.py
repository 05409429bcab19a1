"""Live changes across server processes (issue 18).

Four processes on one PostgreSQL database, two on one SQLite file: eight
writers POST through every process in turn while an event stream is open on
each process; every stream must receive every record exactly once, in commit
order (increasing ``last_modified``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.live_client import HTTPEventStream
from tests.server import StartServer, migrate, sql_settings, write_ini
from tests.test_multiprocess import postgresql_database, start_servers

__all__ = ["postgresql_database"]  # The fixture, used by name below.

pytestmark = pytest.mark.process

WRITERS = 8
POSTS_PER_WRITER = 25
AUTH = ("live", "secret")
PATH = "/v1/buckets/live/collections/c/records"


def write(urls: list[str], writer: int) -> list[dict]:
    created = []
    with requests.Session() as session:
        session.auth = AUTH
        for index in range(POSTS_PER_WRITER):
            url = urls[(writer + index) % len(urls)]
            response = session.post(url, json={"data": {"writer": writer, "i": index}}, timeout=30)
            assert response.status_code == 201, response.text
            created.append(response.json()["data"])
    return created


def check_every_subscriber_gets_every_change_once(server_urls: list[str]) -> None:
    with requests.Session() as setup:
        setup.auth = AUTH
        setup.put(f"{server_urls[0]}/v1/buckets/live", timeout=30).raise_for_status()
        setup.put(f"{server_urls[0]}/v1/buckets/live/collections/c", timeout=30).raise_for_status()
    urls = [url + PATH for url in server_urls]
    # Two subscribers on every process.
    streams = [HTTPEventStream(url, AUTH) for url in urls for _ in range(2)]
    try:
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            results = list(pool.map(lambda writer: write(urls, writer), range(WRITERS)))
        created = {record["id"] for writer in results for record in writer}
        assert len(created) == WRITERS * POSTS_PER_WRITER
        for stream in streams:
            events = stream.drain(len(created), timeout=30)
            ids = [event.data["id"] for event in events]
            stamps = [event.data["last_modified"] for event in events]
            assert len(ids) == len(set(ids)), "a change was received twice"
            assert set(ids) == created, f"{len(created - set(ids))} changes missed"
            assert stamps == sorted(stamps), "changes out of commit order"
            assert [int(event.id) for event in events] == stamps
    finally:
        for stream in streams:
            stream.close()


@pytest.mark.postgresql
def test_four_processes_on_one_postgresql_database(
    tmp_path: Path, postgresql_database: str, start_server: StartServer
) -> None:
    settings = sql_settings("kinto.core.{kind}.postgresql", postgresql_database)
    settings["kinto.live_heartbeat_seconds"] = "1"
    ini_path = write_ini(tmp_path / "kinto.ini", settings)
    migrate(ini_path)
    servers = start_servers(start_server, ini_path, 4)
    check_every_subscriber_gets_every_change_once([server.url for server in servers])


def test_two_processes_on_one_sqlite_file(tmp_path: Path, start_server: StartServer) -> None:
    settings = sql_settings("kinto_clone.core.{kind}.sqlite", f"sqlite:///{tmp_path / 'kinto.db'}")
    settings["kinto.live_heartbeat_seconds"] = "1"
    ini_path = write_ini(tmp_path / "kinto.ini", settings)
    servers = start_servers(start_server, ini_path, 2)
    check_every_subscriber_gets_every_change_once([server.url for server in servers])
