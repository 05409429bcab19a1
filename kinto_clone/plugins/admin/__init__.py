"""``kinto.plugins.admin``: the administration web UI at ``/v1/admin/``.

Inis written by ``kinto init`` (Kinto's and ours) enable it.  Kinto serves a
kinto-admin build there; this project serves its own UI: plain ES modules and
CSS shipped inside the package (``static/``), with no build step, no CDN and no
network access beyond this server's API, which it uses as any other client
(every permission check stays on the server).

The files are read once at start-up into memory, and tagged: the set of paths served is
fixed, so no request path ever reaches the file system.  Every page and asset
carries a strict Content-Security-Policy: scripts, styles and API calls from
this origin only, no inline script, no framing.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPMethodNotAllowed, HTTPNotFound, HTTPTemporaryRedirect
from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.errors import ERRORS, http_error

STATIC_FOLDER = Path(__file__).with_name("static")
INDEX_FILE = "index.html"

ADMIN_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none';"
)
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str
    """A digest of ``body``: the files are fixed from start-up, so is their tag."""


def asset_of(body: bytes, content_type: str) -> Asset:
    digest = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest())
    return Asset(body, content_type, digest.decode("ascii").rstrip("="))


def load_assets(folder: Path = STATIC_FOLDER) -> dict[str, Asset]:
    """Every file under ``folder``, by its ``/``-separated path relative to it."""
    assets = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            content_type = CONTENT_TYPES.get(path.suffix, guessed)
            assets[path.relative_to(folder).as_posix()] = asset_of(path.read_bytes(), content_type)
    return assets


def _asset_response(request: Request, asset: Asset) -> Response:
    response = Response(body=asset.body, content_type=asset.content_type, charset="utf-8")
    response.headers["Content-Security-Policy"] = ADMIN_CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    # Revalidated on each load: a server upgrade must never mix old and new modules.
    response.headers["Cache-Control"] = "no-cache"
    response.etag = asset.etag
    response.conditional_response = True
    return response


def admin_home(request: Request) -> Response:
    return _asset_response(request, request.registry.admin_assets[INDEX_FILE])


def admin_asset(request: Request) -> Response:
    path = "/".join(request.matchdict["path"])
    asset = request.registry.admin_assets.get(path)
    if asset is None:
        raise http_error(
            HTTPNotFound(), errno=ERRORS.MISSING_RESOURCE, message="The resource was not found."
        )
    return _asset_response(request, asset)


def admin_read_only(request: Request) -> Response:
    raise http_error(
        HTTPMethodNotAllowed(),
        errno=ERRORS.METHOD_NOT_ALLOWED,
        message="Method not allowed on this endpoint.",
    )


def admin_redirect(request: Request) -> Response:
    return HTTPTemporaryRedirect(location=request.route_path("admin_home"))


def includeme(config: Configurator) -> None:
    config.registry.admin_assets = load_assets()
    config.add_route("admin_home", "/admin/")
    config.add_route("admin_redirect", "/admin")
    config.add_route("admin_asset", "/admin/*path")
    read = ("GET", "HEAD")
    config.add_view(admin_home, route_name="admin_home", request_method=read)
    config.add_view(admin_read_only, route_name="admin_home")
    config.add_view(admin_asset, route_name="admin_asset", request_method=read)
    config.add_view(admin_read_only, route_name="admin_asset")
    config.add_view(admin_redirect, route_name="admin_redirect")
    config.add_api_capability(
        "admin",
        description="Serves the admin console.",
        url="https://github.com/Kinto/kinto-admin/",
        version="",
    )
