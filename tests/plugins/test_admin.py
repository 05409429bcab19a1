"""The ``/v1/admin/`` UI served by ``kinto.plugins.admin``: files from the package,
each with a strict Content-Security-Policy (the browser tests are in tests/admin/)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
import webtest

from kinto_clone.plugins.admin import STATIC_FOLDER
from tests.plugins.conftest import MakeApp


@pytest.fixture
def app(make_app: MakeApp) -> webtest.TestApp:
    return make_app({"kinto.includes": "kinto.plugins.admin"})


def test_admin_without_slash_redirects(app: webtest.TestApp) -> None:
    response = app.get("/v1/admin", status=307)
    assert response.location.endswith("/v1/admin/")


def test_admin_page_loads_its_modules_from_the_server(app: webtest.TestApp) -> None:
    response = app.get("/v1/admin/")
    assert response.content_type == "text/html"
    assert '<script type="module" src="js/app.js"></script>' in response.text
    # Nothing from elsewhere: every URL of the page is relative.
    assert not re.search(r"(src|href)=\"(https?:)?//", response.text)


def test_admin_csp_allows_this_origin_only_and_no_inline_script(app: webtest.TestApp) -> None:
    csp = app.get("/v1/admin/").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("js/app.js", "text/javascript"),
        ("style.css", "text/css"),
        ("js/dom.js", "text/javascript"),
    ],
)
def test_admin_assets(app: webtest.TestApp, path: str, content_type: str) -> None:
    response = app.get(f"/v1/admin/{path}")
    assert response.content_type == content_type
    assert response.body == (STATIC_FOLDER / path).read_bytes()
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    app.get(f"/v1/admin/{path}", headers={"If-None-Match": response.headers["ETag"]}, status=304)


def test_admin_etags_are_tagged_at_start_up(app: webtest.TestApp) -> None:
    """The tag is the digest of the file as loaded, not computed per request."""
    assets = app.app.registry.admin_assets
    for path, asset in [("", assets["index.html"]), ("style.css", assets["style.css"])]:
        digest = base64.b64encode(hashlib.md5(asset.body, usedforsecurity=False).digest())
        assert asset.etag == digest.decode().rstrip("=")
        assert app.get(f"/v1/admin/{path}").headers["ETag"] == f'"{asset.etag}"'
    # Two files with one content share a tag; different contents do not.
    assert len({a.etag for a in assets.values()}) == len({a.body for a in assets.values()})


@pytest.mark.parametrize("path", ["nope.js", "js/../../__init__.py", "%2e%2e/__init__.py", "js"])
def test_admin_unknown_assets_are_404(app: webtest.TestApp, path: str) -> None:
    assert app.get(f"/v1/admin/{path}", status=404).json["errno"] == 111


def test_every_module_imported_is_shipped() -> None:
    """A typo in an import would only show in a browser: check them here too."""
    for module in (STATIC_FOLDER / "js").glob("*.js"):
        for imported in re.findall(r'from "\./([\w.]+)"', module.read_text()):
            assert (Path(module.parent) / imported).exists(), (module.name, imported)


def test_admin_capability(app: webtest.TestApp) -> None:
    assert "admin" in app.get("/v1/").json["capabilities"]


def test_admin_page_is_read_only(app: webtest.TestApp) -> None:
    assert app.post("/v1/admin/", status=405).json["errno"] == 115
    assert app.post("/v1/admin/js/app.js", status=405).json["errno"] == 115
