"""Headless Chromium driven by Playwright, and ``kinto start`` processes serving the admin UI.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``, or ``$KINTO_TEST_CHROMIUM``):
Playwright's own browser downloads are never used.  Without it (or without
Playwright) the browser tests are skipped, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.ci import skip_or_fail
from tests.server import KintoServer, free_port, migrate, write_ini

CHROMIUM_VARIABLE = "KINTO_TEST_CHROMIUM"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PORTS_VARIABLE = "KINTO_TEST_PORTS"
"""``first-last``: ports the admin servers take (for shared machines); any free one otherwise."""

ADMIN_SETTINGS: dict[str, str] = {
    "kinto.includes": (
        "kinto.plugins.admin kinto.plugins.accounts kinto.plugins.history kinto_attachment"
    ),
    "multiauth.policies": "account basicauth",
    "multiauth.policy.account.use": "kinto.plugins.accounts.AccountsPolicy",
    "kinto.account_create_principals": "system.Everyone",
    "kinto.experimental_collection_schema_validation": "true",
    # bcrypt's minimum cost: the scenario signs people up and in many times.
    "kinto.account_bcrypt_rounds": "4",
}

AdminServer = Callable[[Mapping[str, str]], KintoServer]


def chromium_path() -> str | None:
    wanted = os.environ.get(CHROMIUM_VARIABLE)
    if wanted:
        return wanted if Path(wanted).exists() else None
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (each test opens its own contexts)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright for Python is not installed (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        skip_or_fail("Chromium not found: apt-get install chromium (or set KINTO_TEST_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


def _port() -> int:
    span = os.environ.get(PORTS_VARIABLE)
    if not span:
        return free_port()
    first, last = (int(part) for part in span.split("-"))
    for port in range(first, last + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {span}")


@pytest.fixture
def admin_server(tmp_path: Path) -> Iterator[AdminServer]:
    """Start ``kinto start`` with the admin UI, accounts, history and attachments
    (files kept in a folder and served by the server itself), on ``backend`` settings."""
    servers: list[KintoServer] = []

    def start(backend: Mapping[str, str]) -> KintoServer:
        folder = tmp_path / f"server-{len(servers)}"
        (folder / "files").mkdir(parents=True)
        ini_path = folder / "kinto.ini"
        port = _port()
        settings = {
            **ADMIN_SETTINGS,
            **backend,
            "kinto.attachment.base_path": str(folder / "files"),
            "kinto.attachment.base_url": f"http://127.0.0.1:{port}/files/",
        }
        write_ini(ini_path, settings)
        if "postgresql" in backend.get("kinto.storage_backend", ""):
            migrate(ini_path)
        server = KintoServer(ini_path)
        server.port, server.url = port, f"http://127.0.0.1:{port}"
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
