"""``kinto.plugins.admin``: the ``/v1/admin/`` page.

Inis written by ``kinto init`` (Kinto's and ours) enable it.  Kinto serves a
kinto-admin build there; this project serves a small page pointing to the
kinto-admin web app (which works unchanged against this server), until its own
admin page lands.
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPMethodNotAllowed, HTTPTemporaryRedirect
from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.errors import ERRORS, http_error

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Kinto administration</title></head>
<body>
<h1>Kinto administration</h1>
<p>This server speaks Kinto's HTTP API (version {api_version}) at
<a href="{api_url}">{api_url}</a>.</p>
<p>Manage its buckets, collections, groups and records with the
<a href="https://github.com/Kinto/kinto-admin">kinto-admin</a> web application:
point it at this server URL.</p>
</body>
</html>
"""

# The page embeds no script and loads nothing from elsewhere.
ADMIN_CSP = "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none';"


def admin_home(request: Request) -> Response:
    body = PAGE.format(
        api_version=request.registry.http_api_version, api_url=request.route_url("hello")
    )
    response = Response(body, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = ADMIN_CSP
    return response


def admin_read_only(request: Request) -> Response:
    raise http_error(
        HTTPMethodNotAllowed(),
        errno=ERRORS.METHOD_NOT_ALLOWED,
        message="Method not allowed on this endpoint.",
    )


def admin_redirect(request: Request) -> Response:
    return HTTPTemporaryRedirect(location=request.route_path("admin_home"))


def includeme(config: Configurator) -> None:
    config.add_route("admin_home", "/admin/")
    config.add_route("admin_redirect", "/admin")
    config.add_view(admin_home, route_name="admin_home", request_method=("GET", "HEAD"))
    config.add_view(admin_read_only, route_name="admin_home")
    config.add_view(admin_redirect, route_name="admin_redirect")
    config.add_api_capability(
        "admin",
        description="Serves the admin console.",
        url="https://github.com/Kinto/kinto-admin/",
        version="",
    )
