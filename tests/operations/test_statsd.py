"""StatsD: a real ``kinto`` process sends Kinto's measurements to a UDP listener."""

from __future__ import annotations

import re

import pytest
import requests

from tests.operations.capture import StatsDCapture, wait_for
from tests.operations.metrics_text import value
from tests.server import StartServer

pytestmark = pytest.mark.process

# One StatsD line: ``name:value|type``.
LINE = re.compile(r"(?P<name>[^:]+):(?P<value>[^|]+)\|(?P<type>ms|c|s|g)")


def parsed(lines: list[str]) -> list[dict[str, str]]:
    matches = [LINE.fullmatch(line) for line in lines]
    assert all(matches), [line for line, match in zip(lines, matches, strict=True) if not match]
    return [match.groupdict() for match in matches if match]


def test_documented_snippet_sends_kinto_metrics(start_server: StartServer) -> None:
    with StatsDCapture() as statsd:
        # Kinto 26.5.0's documented snippet: the URL alone turns StatsD on.
        server = start_server({"kinto.statsd_url": statsd.url})
        response = requests.put(
            f"{server.url}/v1/buckets/blog", json={}, auth=("alice", "pw"), timeout=10
        )
        assert response.status_code == 201
        requests.get(f"{server.url}/v1/buckets/nope/collections/x", timeout=10)

        def summary_sets() -> list[dict[str, str]]:
            return [
                metric
                for metric in parsed(statsd.lines())
                if metric["name"] == "kinto.request_summary" and "bucket-object" in metric["value"]
            ]

        summary = wait_for(summary_sets)[0]
        assert summary["type"] == "s"
        assert summary["value"] == (
            "method.put.endpoint.bucket-object.bucket_id.blog.collection_id."
            ".group_id..record_id..status.201"
        )
        metrics = parsed(statsd.lines())
        names = {(metric["name"], metric["type"]) for metric in metrics}
        duration = (
            "kinto.request_duration_seconds.method.put.endpoint.bucket-object."
            "bucket_id.blog.collection_id..group_id..record_id."
        )
        assert (duration, "ms") in names
        assert ("kinto.request_size", "g") in names
        assert ("kinto.authentication", "s") in names
        assert ("kinto.users", "s") in names
        assert ("kinto.backend.storage.seconds.method.create", "ms") in names
        assert (
            "kinto.authentication.basicauth.seconds.method.authenticated_userid",
            "ms",
        ) in names
        users = [metric["value"] for metric in metrics if metric["name"] == "kinto.users"]
        assert users[0].startswith("auth.basicauth.userid.")


def test_plugin_and_prefix_settings(start_server: StartServer) -> None:
    with StatsDCapture() as statsd:
        server = start_server(
            {
                "kinto.includes": "kinto.plugins.statsd kinto.plugins.prometheus",
                "kinto.statsd_url": statsd.url,
                "kinto.statsd_prefix": "kinto-prod",
            }
        )
        requests.get(f"{server.url}/v1/", timeout=10)
        lines = wait_for(lambda: [line for line in statsd.lines() if "request_summary" in line])
        assert lines[0].startswith("kinto-prod.request_summary:")
        # Both services receive the measurements.
        text = requests.get(f"{server.url}/v1/__metrics__", timeout=10).text
        assert value(text, "kinto_request_summary_total", endpoint="hello") == 1


def test_the_plugin_without_url_stops_the_start(start_server: StartServer) -> None:
    with pytest.raises(RuntimeError, match="statsd_url"):
        start_server({"kinto.includes": "kinto.plugins.statsd"})
