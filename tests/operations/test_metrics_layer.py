"""The generic metrics layer: third-party services plug in beside the built-in ones."""

from __future__ import annotations

import base64

import webtest

import kinto_clone
from kinto_clone.core.metrics import FanOutMetrics, NoOpMetrics
from tests.operations.metrics_text import value

ALICE = {"Authorization": "Basic " + base64.b64encode(b"alice:secret").decode()}
RECORDING = "tests.fixtures_plugins.recording_metrics"


def make_app(includes: str) -> webtest.TestApp:
    settings = {
        "multiauth.policies": "basicauth",
        "kinto.userid_hmac_secret": "layer",
        "kinto.includes": includes,
    }
    return webtest.TestApp(kinto_clone.main({}, **settings))


def test_without_services_nothing_is_instrumented() -> None:
    app = make_app("")
    registry = app.app.registry
    assert isinstance(registry.metrics, NoOpMetrics)
    # Backends keep their own methods: no timing wrapper in the way.
    assert registry.storage.get.__func__ is type(registry.storage).get


def test_a_plugin_service_receives_kinto_measurements() -> None:
    app = make_app(RECORDING)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    service = app.app.registry.recording_metrics
    keys = {(kind, key) for kind, key, _, _ in service.records}
    assert ("count", "request_summary") in keys
    assert ("timer", "request_duration_seconds") in keys
    assert ("observe", "request_size") in keys
    assert ("count", "authentication") in keys
    assert ("timer", "backend.storage.seconds") in keys
    assert ("timer", "authentication.basicauth.seconds") in keys
    summary = next(labels for kind, key, _, labels in service.records if key == "request_summary")
    assert dict(summary)["endpoint"] == "bucket-object"
    assert dict(summary)["status"] == "201"
    # One batch per request, closed even though the request wrote.
    assert service.batches == ["start", "flush"]


def test_with_prometheus_both_receive_everything() -> None:
    app = make_app(f"kinto.plugins.prometheus {RECORDING} kinto.plugins.history")
    registry = app.app.registry
    assert isinstance(registry.metrics, FanOutMetrics)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    text = app.get("/v1/__metrics__").text
    assert value(text, "kinto_request_summary_total", endpoint="bucket-object") == 1
    assert value(text, "kinto_plugins_history_seconds_count") == 1
    records = registry.recording_metrics.records
    storage_calls = [r for r in records if r[1] == "backend.storage.seconds"]
    assert len(storage_calls) == value(text, "kinto_backend_storage_seconds_count")
    # Its timer is no FunctionTimer: it is given the duration measured for both.
    history = [r for r in records if r[1] == "plugins.history.seconds"]
    assert len(history) == 1
    assert history[0][2] > 0
