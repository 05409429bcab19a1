"""Prometheus: ``/v1/__metrics__`` read by prometheus_client's own text parser.

In-process apps for the metric names, labels and settings; real ``kinto``
processes for the multiprocess mode, where two servers share
``PROMETHEUS_MULTIPROC_DIR`` and either one serves the sum of both.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import prometheus_client
import pytest
import requests
import webtest

import kinto_clone
from kinto_clone.plugins.prometheus import PrometheusService
from tests.operations.metrics_text import samples, value
from tests.server import StartServer

ALICE = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()}
BASE = {
    "multiauth.policies": "basicauth",
    "kinto.userid_hmac_secret": "prometheus-tests",
    # Kinto 26.5.0's documented snippet.
    "kinto.includes": "kinto.plugins.prometheus",
}


def make_app(**settings: str) -> webtest.TestApp:
    return webtest.TestApp(kinto_clone.main({}, **{**BASE, **settings}))


def send_traffic(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/blog", {}, headers=ALICE)
    app.put_json("/v1/buckets/blog/collections/articles", {}, headers=ALICE)
    for _ in range(3):
        app.post_json("/v1/buckets/blog/collections/articles/records", {"data": {}}, headers=ALICE)
    app.get("/v1/buckets/blog/collections/articles/records", headers=ALICE)
    app.get("/v1/buckets/unknown/collections/x", headers=ALICE, status=403)
    app.get("/v1/nowhere", status=404)
    app.get("/v1/")


class TestMetricsEndpoint:
    def test_text_format_with_kinto_names_and_labels(self) -> None:
        app = make_app()
        send_traffic(app)
        response = app.get("/v1/__metrics__")
        assert response.headers["Content-Type"] == prometheus_client.CONTENT_TYPE_LATEST
        text = response.text

        records = {"endpoint": "record-plural", "bucket_id": "blog", "collection_id": "articles"}
        assert value(text, "kinto_request_summary_total", method="post", status="201", **records)
        assert value(text, "kinto_request_summary_total", method="post", **records) == 3
        assert value(text, "kinto_request_duration_seconds_count", method="post", **records) == 3
        assert value(text, "kinto_request_size_count", method="get", **records) == 1
        assert value(text, "kinto_request_size_sum", method="get", **records) > 0
        # Error responses keep ids out of the labels; unrouted paths are "unknown".
        assert (
            value(text, "kinto_request_summary_total", endpoint="collection-object", status="403")
            == 1
        )
        assert value(text, "kinto_request_summary_total", status="403", bucket_id="") == 1
        assert value(text, "kinto_request_summary_total", endpoint="unknown", status="404") == 1
        assert value(text, "kinto_request_summary_total", endpoint="hello", method="get") == 1

        assert value(text, "kinto_authentication_total", type="basicauth") == 7
        assert value(text, "kinto_users_total", auth="basicauth") == 7
        assert value(text, "kinto_backend_storage_seconds_count", method="create") >= 5
        assert value(text, "kinto_backend_permission_seconds_count") > 0
        timed_policy = "kinto_authentication_basicauth_seconds_count"
        assert value(text, timed_policy, method="authenticated_userid") >= 7
        buckets = {
            sample.labels["le"]
            for sample in samples(text)
            if sample.name == "kinto_request_duration_seconds_bucket"
        }
        assert buckets == {"0.01", "0.05", "0.1", "0.5", "1.0", "3.0", "6.0", "+Inf"}

    def test_capability(self) -> None:
        app = make_app(**{"kinto.prometheus_disabled_metrics": "kinto_users request_size"})
        capability = app.get("/v1/").json["capabilities"]["prometheus"]
        assert capability["prefix"] == "kinto_"
        assert capability["disabled_metrics"] == ["kinto_users", "request_size"]

    def test_prefix_setting(self) -> None:
        app = make_app(**{"kinto.prometheus_prefix": "kinto-prod"})
        app.get("/v1/")
        text = app.get("/v1/__metrics__").text
        assert value(text, "kintoprod_request_summary_total", endpoint="hello") == 1
        assert not [sample for sample in samples(text) if sample.name.startswith("kinto_")]

    def test_disabled_metrics_with_or_without_prefix(self) -> None:
        app = make_app(**{"kinto.prometheus_disabled_metrics": "kinto_users request_size"})
        app.get("/v1/", headers=ALICE)
        names = {sample.name for sample in samples(app.get("/v1/__metrics__").text)}
        assert "kinto_request_summary_total" in names
        assert not {
            name for name in names if name.startswith(("kinto_users", "kinto_request_size"))
        }

    def test_histogram_buckets_setting(self) -> None:
        app = make_app(**{"kinto.prometheus_histogram_buckets": "0.5 2"})
        app.get("/v1/")
        text = app.get("/v1/__metrics__").text
        buckets = {
            sample.labels["le"]
            for sample in samples(text)
            if sample.name == "kinto_request_duration_seconds_bucket"
        }
        assert buckets == {"0.5", "2.0", "+Inf"}

    def test_unordered_buckets_stop_the_start(self) -> None:
        with pytest.raises(ValueError, match="prometheus_histogram_buckets"):
            make_app(**{"kinto.prometheus_histogram_buckets": "2 0.5"})

    def test_created_samples_can_be_turned_off(self) -> None:
        try:
            app = make_app(**{"kinto.prometheus_created_metrics_enabled": "false"})
            app.get("/v1/")
            names = {sample.name for sample in samples(app.get("/v1/__metrics__").text)}
        finally:
            prometheus_client.enable_created_metrics()
        assert "kinto_request_summary_total" in names
        assert not [name for name in names if name.endswith("_created")]

    def test_listeners_and_history_are_timed(self) -> None:
        app = make_app(**{"kinto.includes": "kinto.plugins.prometheus kinto.plugins.history"})
        app.put_json("/v1/buckets/blog", {}, headers=ALICE)
        text = app.get("/v1/__metrics__").text
        assert value(text, "kinto_plugins_history_seconds_count") == 1

    def test_cache_hits_and_misses(self) -> None:
        app = make_app()
        cache = app.app.registry.cache
        cache.set("key", "value", 60)
        assert cache.get("key") == "value"
        assert cache.get("other") is None
        text = app.get("/v1/__metrics__").text
        assert value(text, "kinto_cache_hits_total") == 1
        assert value(text, "kinto_cache_misses_total") == 1


@pytest.fixture
def multiprocess_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    yield folder


@pytest.mark.process
def test_two_processes_share_the_multiprocess_directory(
    start_server: StartServer, multiprocess_dir: Path
) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiprocess_dir)}
    settings = {"kinto.includes": "kinto.plugins.prometheus kinto.plugins.default_bucket"}
    first = start_server(settings, env=env)
    second = start_server(settings, env=env)
    for server, count in ((first, 3), (second, 4)):
        for _ in range(count):
            response = requests.get(f"{server.url}/v1/", auth=("alice", "pw"), timeout=10)
            assert response.status_code == 200
    for server in (first, second):
        response = requests.get(f"{server.url}/v1/__metrics__", timeout=10)
        assert response.status_code == 200
        text = response.text
        assert value(text, "kinto_request_summary_total", endpoint="hello", status="200") == 7
        assert value(text, "kinto_request_duration_seconds_count", endpoint="hello") == 7
        assert value(text, "kinto_authentication_total", type="basicauth") == 7


def test_first_uses_from_many_threads_create_one_collector() -> None:
    service = PrometheusService(prometheus_client.CollectorRegistry(), "kinto")
    barrier = threading.Barrier(8)

    def measure() -> None:
        barrier.wait()
        for index in range(50):
            service.count("hits", unique=[("n", str(index))])

    threads = [threading.Thread(target=measure) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    text = prometheus_client.generate_latest(service.registry).decode()
    assert value(text, "kinto_hits_total") == 8 * 50
