"""``POST /v1/__flush__`` (``kinto.plugins.flush``)."""

from __future__ import annotations

import pytest
import webtest
from pyramid.config import Configurator

from kinto_clone.core.events import ServerFlushed
from tests.plugins.conftest import MakeApp, basic_auth

ALICE = basic_auth("alice")


@pytest.fixture
def app(make_app: MakeApp) -> webtest.TestApp:
    return make_app({"kinto.includes": "kinto.plugins.flush"})


def test_capability_is_advertised(app: webtest.TestApp) -> None:
    capability = app.get("/v1/").json["capabilities"]["flush_endpoint"]
    assert capability == {
        "description": "The __flush__ endpoint can be used to remove all data from all backends.",
        "url": "https://kinto.readthedocs.io/en/latest/api/1.x/flush.html",
    }


def test_flush_answers_202_with_an_empty_object_without_credentials(
    app: webtest.TestApp,
) -> None:
    response = app.post("/v1/__flush__", status=202)
    assert response.json == {}


def test_flush_removes_objects_permissions_and_cache(app: webtest.TestApp) -> None:
    app.put_json("/v1/buckets/b", {"permissions": {"read": ["bob"]}}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    registry = app.app.registry
    registry.cache.set("key", "value", 60)

    app.post("/v1/__flush__", status=202)

    app.get("/v1/buckets/b", headers=ALICE, status=403)
    assert app.get("/v1/buckets", headers=ALICE).json["data"] == []
    assert registry.permission.get_object_permissions("/buckets/b") == {}
    assert registry.cache.get("key") is None


def test_flush_notifies_server_flushed(make_app: MakeApp) -> None:
    received: list[ServerFlushed] = []
    app = make_app({"kinto.includes": "kinto.plugins.flush"})
    config = Configurator(registry=app.app.registry)
    config.add_subscriber(received.append, ServerFlushed)
    config.commit()

    app.post("/v1/__flush__", status=202)

    assert len(received) == 1
    assert received[0].request.path == "/v1/__flush__"


def test_only_post_is_allowed(app: webtest.TestApp) -> None:
    response = app.get("/v1/__flush__", status=405)
    assert response.json["errno"] == 115


def test_endpoint_is_absent_without_the_plugin(make_app: MakeApp) -> None:
    app = make_app()
    app.post("/v1/__flush__", status=404)
    assert "flush_endpoint" not in app.get("/v1/").json["capabilities"]
