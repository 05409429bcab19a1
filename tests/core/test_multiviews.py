"""One view per method: chosen by its predicates, not by exceptions."""

from __future__ import annotations

import pytest
import webtest
from pyramid import config as pyramid_config
from pyramid.config import Configurator
from pyramid.exceptions import PredicateMismatch
from pyramid.interfaces import IMultiView

from kinto_clone.core.multiviews import CheckingMultiView, use_checking_multiviews


class CountedMismatch(PredicateMismatch):
    built = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        CountedMismatch.built += 1
        super().__init__(*args, **kwargs)


@pytest.fixture
def mismatches(monkeypatch: pytest.MonkeyPatch) -> type[CountedMismatch]:
    monkeypatch.setattr(pyramid_config.views, "PredicateMismatch", CountedMismatch)
    CountedMismatch.built = 0
    return CountedMismatch


def make_app(checking: bool) -> webtest.TestApp:
    config = Configurator()
    config.add_route("thing", "/thing")
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        config.add_view(
            lambda request, method=method: {"method": method},
            route_name="thing",
            request_method=method,
            renderer="json",
        )

    def refusing(request: object) -> dict:
        # A view may raise it itself: the next one is tried, as Pyramid does.
        raise PredicateMismatch("not me")

    config.add_view(refusing, route_name="thing", request_method="POST", renderer="json")
    config.add_view(lambda request: {"method": "any POST"}, route_name="thing", renderer="json")
    config.commit()
    if checking:
        use_checking_multiviews(config.registry)
    return webtest.TestApp(config.make_wsgi_app())


def test_multiviews_are_replaced() -> None:
    app = make_app(checking=True)
    found = [r.factory for r in app.app.registry.registeredAdapters() if r.provided is IMultiView]
    assert found and all(type(view) is CheckingMultiView for view in found)


@pytest.mark.parametrize("checking", [False, True])
def test_the_same_view_answers(checking: bool) -> None:
    app = make_app(checking)
    assert app.get("/thing").json == {"method": "GET"}
    assert app.patch("/thing").json == {"method": "PATCH"}
    assert app.delete("/thing").json == {"method": "DELETE"}
    assert app.post("/thing").json == {"method": "any POST"}


def test_no_exception_is_built_for_views_that_do_not_apply(
    mismatches: type[CountedMismatch],
) -> None:
    app = make_app(checking=True)
    app.patch("/thing")
    assert mismatches.built == 0
    unchecked = make_app(checking=False)
    unchecked.patch("/thing")
    assert mismatches.built == 3
