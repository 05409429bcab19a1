"""Unversioned URLs redirect to ``/v1/...`` (Kinto's ``version_prefix_redirect``)."""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPTemporaryRedirect
from pyramid.request import Request
from pyramid.response import Response


def redirect_to_version(request: Request) -> Response:
    # Browsers send preflights before following redirects: answer them plainly.
    if request.method == "OPTIONS":
        return Response(status=200)
    prefix = request.registry.route_prefix
    query = request.query_string
    location = f"/{prefix}/{request.matchdict['path']}" + (f"?{query}" if query else "")
    response = HTTPTemporaryRedirect(location=location)
    ttl = request.registry.settings["version_prefix_redirect_ttl_seconds"]
    if ttl >= 0:
        response.cache_expires(ttl)
    return response


def includeme(config: Configurator) -> None:
    if not config.get_settings()["version_prefix_redirect_enabled"]:
        return
    config.add_route("redirect_to_version", r"/{path:(?!v[0-9]+)[^\r\n]*}")
    config.add_view(redirect_to_version, route_name="redirect_to_version")
