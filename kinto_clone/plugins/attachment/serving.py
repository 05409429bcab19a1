"""The server publishing ``attachment.base_path`` itself, when ``base_url`` points at it.

In production a web server or CDN serves the folder (README, "File
attachments").  For a single machine, or tests, ``attachment.base_url`` may
name this server, e.g. ``http://localhost:8888/attachments/``: the files are then
answered under that path, with their type, an ``ETag``, ``Last-Modified``, range
requests (``206``), conditional requests (``304``) and caching headers.  Only
requests addressed to the host and port of ``base_url`` are answered, so a
``base_url`` naming a CDN publishes nothing here.

Files are public, as they are behind a CDN: their names are random (unless
``randomize`` is off) and nothing in them is checked against record permissions.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from pyramid import httpexceptions
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import FileResponse, Response

from kinto_clone.core.errors import ERRORS, http_error
from kinto_clone.core.redirects import redirect_to_version
from kinto_clone.plugins.attachment.settings import mimetype_of
from kinto_clone.plugins.attachment.storage.local import LocalFileStorage

CACHE_SECONDS = 3600
ROUTE = "attachment_files"
REDIRECT_ROUTE = "redirect_to_version"


def _not_found() -> httpexceptions.HTTPException:
    return http_error(httpexceptions.HTTPNotFound(), errno=ERRORS.MISSING_RESOURCE)


def _addressed_to(request: Request, url: SplitResult) -> bool:
    """Whether ``request`` reached this server under the host and port of ``url``."""
    port = url.port or (443 if url.scheme == "https" else 80)
    return request.domain == url.hostname and int(request.host_port) == port


def serve_file(request: Request) -> Response:
    storage: LocalFileStorage = request.registry.attachment_files
    served = urlsplit(storage.base_url)
    if served.hostname and not _addressed_to(request, served):
        if request.matched_route.name == REDIRECT_ROUTE:
            return redirect_to_version(request)
        raise _not_found()
    location = request.path_info[len(request.registry.attachment_files_path) :]
    try:
        path = storage.path(location)
    except ValueError:
        raise _not_found() from None
    if not path.is_file():
        raise _not_found()
    # The collection is unknown here: the types configured for all of them apply.
    configured = request.registry.attachment_settings.defaults.mimetypes
    mimetype = mimetype_of(path.name, configured)
    response = FileResponse(str(path), request=request, content_type=mimetype)
    stat = path.stat()
    response.etag = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
    response.cache_control = f"public, max-age={CACHE_SECONDS}"
    response.headers["Accept-Ranges"] = "bytes"
    response.conditional_response = True
    return response


def setup_serving(config: Configurator, storage: LocalFileStorage) -> None:
    """Answer ``GET``/``HEAD`` under the path of ``base_url``, when it has one.

    Outside ``/v1`` that path already belongs to the catch-all route redirecting
    unversioned URLs (registered first, so it matches first): the files view is
    added to that route, for paths under the files' path only.
    """
    path = urlsplit(storage.base_url).path
    if not storage.base_url or not path.strip("/"):
        return
    prefix = "/" + path.strip("/") + "/"
    config.registry.attachment_files_path = prefix
    methods = ("GET", "HEAD")
    versioned = prefix.startswith(f"/{config.registry.route_prefix}/")
    if config.get_settings()["version_prefix_redirect_enabled"] and not versioned:
        path_info = "^" + re.escape(prefix)
        config.add_view(
            serve_file, route_name=REDIRECT_ROUTE, path_info=path_info, request_method=methods
        )
        return
    # The plugin is included under the ``v1`` prefix; the files' path is absolute.
    included_under, config.route_prefix = config.route_prefix, None
    try:
        config.add_route(ROUTE, prefix + "*location")
    finally:
        config.route_prefix = included_under
    config.add_view(serve_file, route_name=ROUTE, request_method=methods)
