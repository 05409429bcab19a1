from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.server import KintoServer, StartServer, write_ini


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KintoServer]:
    """A real ``kinto start`` process with the default test ini, shared by the session."""
    ini_path = write_ini(tmp_path_factory.mktemp("live-server") / "kinto.ini")
    with KintoServer(ini_path) as server:
        yield server


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers with custom inis; all are stopped when the test ends.

    ``start_server(settings)`` overrides default ini settings (``None`` removes one);
    ``start_server(ini_path=...)`` runs an existing file unchanged; ``env`` adds
    environment variables; ``options`` more ``kinto start`` options.
    """
    servers: list[KintoServer] = []

    def start(
        settings: Mapping[str, str | None] | None = None,
        *,
        ini_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        options: Sequence[str] = (),
    ) -> KintoServer:
        if ini_path is None:
            folder = tmp_path / f"server-{len(servers)}"
            folder.mkdir()
            ini_path = write_ini(folder / "kinto.ini", settings)
        server = KintoServer(ini_path, env=env, options=options)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
