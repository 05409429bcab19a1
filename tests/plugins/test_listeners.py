"""``kinto.event_listeners``: listeners loaded from settings."""

from __future__ import annotations

import logging

import pytest
import webtest
from pyramid.exceptions import ConfigurationError

from kinto_clone.core import transaction
from kinto_clone.core.events import AfterResourceChanged
from tests.plugins.conftest import MakeApp, basic_auth
from tests.plugins.recording_listener import Recorder

ALICE = basic_auth("alice")
MODULE = "tests.plugins.recording_listener"


def recorder(app: webtest.TestApp, name: str = "rec") -> Recorder:
    return app.app.registry.recording_listeners[f"event_listeners.{name}."]


def listening(make_app: MakeApp, **options: str) -> webtest.TestApp:
    settings = {"kinto.event_listeners": "rec", "kinto.event_listeners.rec.use": MODULE}
    settings.update({f"kinto.event_listeners.rec.{k}": v for k, v in options.items()})
    return make_app(settings)


def test_listener_receives_committed_changes(make_app: MakeApp) -> None:
    app = listening(make_app)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    events = recorder(app).events
    assert [type(e) for e in events] == [AfterResourceChanged, AfterResourceChanged]
    assert [(e.payload["action"], e.payload["uri"]) for e in events] == [
        ("create", "/buckets/b"),
        ("create", "/buckets/b/collections/c"),
    ]
    assert events[1].payload["bucket_id"] == "b"
    assert events[1].impacted_objects[0]["new"]["id"] == "c"


def test_listener_runs_after_the_commit(make_app: MakeApp) -> None:
    app = listening(make_app)
    seen = []

    class Probe(Recorder):
        def __call__(self, event: object) -> None:
            seen.append(transaction.current())

    # Swap the behaviour of the loaded listener for this test.
    recorder(app).__class__ = Probe
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    assert seen == [None]


def test_failed_requests_notify_nothing(make_app: MakeApp) -> None:
    app = listening(make_app)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE, status=403)
    app.put_json("/v1/buckets/b", {"data": "x"}, headers=ALICE, status=400)
    assert recorder(app).events == []


def test_reads_are_not_notified(make_app: MakeApp) -> None:
    app = listening(make_app, actions="create update delete read")
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.get("/v1/buckets/b", headers=ALICE)
    assert [e.payload["action"] for e in recorder(app).events] == ["create"]


def test_actions_filter(make_app: MakeApp) -> None:
    app = listening(make_app, actions="delete")
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.patch_json("/v1/buckets/b", {"data": {"a": 1}}, headers=ALICE)
    app.delete("/v1/buckets/b", headers=ALICE)
    assert [e.payload["action"] for e in recorder(app).events] == ["delete"]


def test_resources_filter(make_app: MakeApp) -> None:
    app = listening(make_app, resources="collection record")
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c/records/r", {}, headers=ALICE)
    names = [e.payload["resource_name"] for e in recorder(app).events]
    assert names == ["collection", "record"]


def test_a_failing_listener_is_logged_and_others_still_run(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(
        {
            "kinto.event_listeners": "bad good",
            "kinto.event_listeners.bad.use": MODULE,
            "kinto.event_listeners.bad.fail": "true",
            "kinto.event_listeners.good.use": MODULE,
        }
    )
    with caplog.at_level(logging.ERROR, logger="kinto_clone.core.listeners"):
        app.put_json("/v1/buckets/b", {}, headers=ALICE, status=201)
    assert len(recorder(app, "bad").events) == 1
    assert len(recorder(app, "good").events) == 1
    assert "Event listener 'bad' failed" in caplog.text
    app.get("/v1/buckets/b", headers=ALICE, status=200)


def test_listener_named_by_its_module(make_app: MakeApp) -> None:
    app = make_app({"kinto.event_listeners": MODULE})
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    assert len(recorder(app, "recording_listener").events) == 1


def test_batch_changes_are_merged(make_app: MakeApp) -> None:
    app = listening(make_app)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    requests = [
        {"method": "PUT", "path": f"/buckets/b/collections/c/records/{r}"} for r in ("1", "2")
    ]
    app.post_json("/v1/batch", {"requests": requests}, headers=ALICE)
    last = recorder(app).events[-1]
    assert last.payload["resource_name"] == "record"
    assert [i["new"]["id"] for i in last.impacted_objects] == ["1", "2"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kinto.event_listeners": "nowhere"}, "event_listeners.nowhere.use is not set"),
        (
            {"kinto.event_listeners": "x", "kinto.event_listeners.x.use": "no.such.module"},
            "cannot import",
        ),
        (
            {
                "kinto.event_listeners": "x",
                "kinto.event_listeners.x.use": MODULE,
                "kinto.event_listeners.x.actions": "explode",
            },
            "actions",
        ),
    ],
)
def test_configuration_errors(make_app: MakeApp, settings: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_app(settings)
