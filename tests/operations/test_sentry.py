"""Sentry: Kinto's documented settings report unhandled errors to the configured DSN.

A real ``kinto`` process reports to :class:`SentryCapture`, an HTTP server on
loopback recording the envelopes the Sentry SDK posts.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import requests

from tests.operations.capture import SentryCapture, wait_for
from tests.server import StartServer

pytestmark = pytest.mark.process

REPOSITORY = str(Path(__file__).parents[2])
FAILING_PLUGIN = "tests.fixtures_plugins.failing_view"


def _exception_values(event: dict) -> list[str]:
    return [value.get("value", "") for value in event.get("exception", {}).get("values", [])]


def wait_for_start(sentry: SentryCapture) -> list[dict]:
    """The server's start-up messages (``Running kinto...``), once one arrived."""
    return wait_for(
        lambda: [
            item
            for header, item in sentry.items()
            if str(item.get("message", "")).startswith("Running kinto")
        ]
    )


def test_unhandled_errors_are_reported(start_server: StartServer) -> None:
    with SentryCapture() as sentry:
        # Kinto 26.5.0's documented snippet, with the DSN of the capture server.
        server = start_server(
            {
                "kinto.includes": FAILING_PLUGIN,
                "kinto.sentry_dsn": sentry.dsn,
                "kinto.sentry_env": "stage",
            },
            env={"PYTHONPATH": REPOSITORY},
        )
        started = wait_for_start(sentry)
        assert started[0]["level"] == "info"

        credentials = base64.b64encode(b"alice:very-secret-password").decode()
        response = requests.get(
            f"{server.url}/v1/__failing__",
            headers={"Authorization": f"Basic {credentials}"},
            timeout=10,
        )
        assert response.status_code == 500

        def failure_events() -> list[dict]:
            return [
                event
                for event in sentry.events()
                if any("deliberate failure" in value for value in _exception_values(event))
            ]

        event = wait_for(failure_events)[0]
        assert event["environment"] == "stage"
        assert event["exception"]["values"][-1]["type"] == "RuntimeError"
        # Credentials stay out of the report.
        everything = b"".join(sentry.envelopes)
        assert credentials.encode() not in everything
        assert b"very-secret-password" not in everything


def test_environment_variables_win_over_the_ini(start_server: StartServer) -> None:
    with SentryCapture() as sentry:
        start_server(
            {"kinto.sentry_dsn": "http://publickey@127.0.0.1:9/1"},
            env={"SENTRY_DSN": sentry.dsn, "SENTRY_ENV": "from-env"},
        )
        started = wait_for_start(sentry)
        assert started[0]["environment"] == "from-env"


def test_an_invalid_dsn_stops_the_start(start_server: StartServer) -> None:
    with pytest.raises(RuntimeError, match="sentry_dsn"):
        start_server({"kinto.sentry_dsn": "not a dsn"})
