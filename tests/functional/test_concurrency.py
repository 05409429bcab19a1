"""Concurrent writers and a polling reader against one real ``kinto`` process,
per backend: the scenario of :mod:`tests.sync_scenario`."""

from __future__ import annotations

from tests.backends import AppBackend
from tests.server import StartServer
from tests.sync_scenario import check_concurrent_writes


def test_concurrent_posts_while_polling(
    app_backend: AppBackend, start_server: StartServer
) -> None:
    live_server = start_server(app_backend.settings)
    check_concurrent_writes([live_server.url])
