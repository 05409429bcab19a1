"""The ``/v1/admin/`` page enabled by inis written with ``kinto init``."""

from __future__ import annotations

import pytest
import webtest

from tests.plugins.conftest import MakeApp


@pytest.fixture
def app(make_app: MakeApp) -> webtest.TestApp:
    return make_app({"kinto.includes": "kinto.plugins.admin"})


def test_admin_without_slash_redirects(app: webtest.TestApp) -> None:
    response = app.get("/v1/admin", status=307)
    assert response.location.endswith("/v1/admin/")


def test_admin_page_is_html_pointing_to_the_api(app: webtest.TestApp) -> None:
    response = app.get("/v1/admin/")
    assert response.content_type == "text/html"
    assert "http://localhost/v1/" in response.text
    assert "script" not in response.headers["Content-Security-Policy"]


def test_admin_capability(app: webtest.TestApp) -> None:
    assert "admin" in app.get("/v1/").json["capabilities"]


def test_admin_page_is_read_only(app: webtest.TestApp) -> None:
    assert app.post("/v1/admin/", status=405).json["errno"] == 115
