"""``POST /v1/batch``: several requests in one round trip and one transaction.

Sub-requests run without tweens, inside the batch's transaction: they commit
together.  A sub-request answered with a 409 or a 5xx makes the whole batch
fail with that error, and nothing is kept; other 4xx answers are reported in
their slot and the rest of the batch is kept (Kinto's rules).
"""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import quote, unquote

from pyramid.config import Configurator
from pyramid.interfaces import IRoutesMapper
from pyramid.request import Request, apply_request_extensions
from pyramid.response import Response

from kinto_clone.core import validation_messages as messages
from kinto_clone.core.errors import raise_invalid
from kinto_clone.core.resource.body import read_json_body
from kinto_clone.core.service import Service
from kinto_clone.core.views.batch_locks import lock_written_lists

batch = Service(name="batch", path="/batch", description="Batch operations")

METHODS = ("GET", "HEAD", "DELETE", "TRACE", "POST", "PUT", "PATCH")
REQUEST_KEYS = {"method", "path", "headers", "body"}


def merge_defaults(target: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Fill what ``target`` lacks from ``defaults``, recursively for objects."""
    for key, value in defaults.items():
        if key not in target:
            target[key] = value
        elif isinstance(target[key], dict) and isinstance(value, dict):
            merge_defaults(target[key], value)


def _invalid(request: Request, name: str, description: str) -> None:
    raise_invalid(request, location="body", name=name, description=description)


def _check_spec(request: Request, name: str, spec: Any, path_required: bool) -> None:
    if not isinstance(spec, dict):
        _invalid(request, name, messages.not_a_mapping(spec))
    unknown = set(spec) - REQUEST_KEYS
    if unknown:
        _invalid(request, name, f"Unrecognized keys: {', '.join(sorted(unknown))}")
    # ``null`` and ``""`` mean GET, as in Kinto (colander drops empty strings).
    if spec.get("method") and spec["method"] not in METHODS:
        _invalid(
            request, f"{name}.method", f'"{spec["method"]}" is not one of {", ".join(METHODS)}'
        )
    path = spec.get("path")
    if path is None and path_required:
        _invalid(request, f"{name}.path", "Required")
    if path is not None and (not isinstance(path, str) or not path.startswith("/")):
        _invalid(request, f"{name}.path", "should be a string starting with /")
    headers = spec.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        _invalid(request, f"{name}.headers", "should be an object of strings")
    if "body" in spec and not isinstance(spec["body"], dict):
        _invalid(request, f"{name}.body", messages.not_a_mapping(spec["body"]))


def parse_batch(request: Request) -> list[dict[str, Any]]:
    body = read_json_body(request)
    if body is None:
        _invalid(request, "requests", messages.REQUIRED)
    if not isinstance(body, dict):
        _invalid(request, messages.WHOLE_BODY, messages.not_a_mapping(body))
    unknown = {key: value for key, value in body.items() if key not in ("defaults", "requests")}
    if unknown:
        _invalid(request, messages.WHOLE_BODY, messages.unrecognized_keys(unknown))
    defaults = body.get("defaults", {})
    _check_spec(request, "defaults", defaults, path_required=False)
    specs = body.get("requests")
    if specs is None:
        _invalid(request, "requests", "Required")
    if not isinstance(specs, list):
        _invalid(request, "requests", messages.not_iterable(specs))
    # Kinto checks every request's shape before the limit: same first error.
    for index, spec in enumerate(specs):
        if isinstance(spec, dict):
            merge_defaults(spec, json.loads(json.dumps(defaults)))
        _check_spec(request, f"requests.{index}", spec, path_required=True)
    limit = request.registry.settings["batch_max_requests"]
    if limit and len(specs) > limit:
        _invalid(request, "requests", f"Number of requests is limited to {limit}")
    prefix = f"/{request.registry.route_prefix}"
    for spec in specs:
        path = spec["path"].split("?")[0]
        if path.rstrip("/") in ("/batch", f"{prefix}/batch"):
            _refuse_recursion(request)
    return specs


def _refuse_recursion(request: Request) -> None:
    _invalid(request, "requests", "Recursive call on /batch endpoint is forbidden.")


def _refuse_if_batch(request: Request, subrequest: Request) -> None:
    """Refuse a sub-request routed to ``/batch`` however its path is spelled.

    Each nesting level multiplies the work by ``batch_max_requests``: an
    escaped path (``/%62atch``, which Kinto lets through) must not slip past
    the plain-text check of :func:`parse_batch`.  A path that is not UTF-8
    routes nowhere: the sub-request answers its own 400.
    """
    try:
        path = subrequest.path_info
    except UnicodeDecodeError:
        return
    if "batch" not in path:
        # No other path routes there: spare the walk of every route.
        return
    route = request.registry.getUtility(IRoutesMapper)(subrequest)["route"]
    if route is not None and route.name == batch.name:
        _refuse_recursion(request)


# Left as they are in a sub-request path: ``%`` keeps the client's escapes.
_PATH_SAFE = "!#$%&'()*+,-./:;=?@[]^_`{|}~"


def build_subrequest(parent: Request, spec: dict[str, Any]) -> Request:
    prefix = f"/{parent.registry.route_prefix}"
    # A JSON string may hold what a request line cannot (``é``, spaces):
    # percent-encoded as UTF-8, as a client would send it (Kinto answers 500).
    path = quote(spec["path"], safe=_PATH_SAFE)
    if not (path == prefix or path.startswith(prefix + "/")):
        path = prefix + path
    headers = dict(parent.headers)
    headers.update(spec.get("headers") or {})
    headers.pop("Content-Length", None)
    body = spec.get("body")
    payload = b""
    if body is not None:
        # Kinto sends every body as plain JSON, whatever Content-Type the
        # sub-request names: a merge-patch content type does not apply here.
        headers["Content-Type"] = "application/json; charset=utf-8"
        payload = json.dumps(body).encode("utf-8")
    subrequest = type(parent).blank(
        path, headers=headers, method=spec.get("method") or "GET", base_url=parent.application_url
    )
    subrequest.body = payload
    subrequest.registry = parent.registry
    subrequest.parent = parent
    apply_request_extensions(subrequest)
    return subrequest


def _invoke(request: Request, subrequest: Request) -> tuple[Response, Request]:
    _refuse_if_batch(request, subrequest)
    try:
        response = request.invoke_subrequest(subrequest, use_tweens=False)
    except Exception:
        # Render it with the same exception views as a top-level request, and
        # give it the same security and CORS headers (Pyramid runs response
        # callbacks only for what a view returned).
        response = subrequest.invoke_exception_view(sys.exc_info())
        subrequest._process_response_callbacks(response)
    # Follow one redirection (trailing slash, version prefix), as a client would.
    if response.status_code in (301, 302, 307, 308) and response.location:
        location = response.location
        redirected = build_subrequest(
            request, {"method": subrequest.method, "path": location.split(request.host_url, 1)[-1]}
        )
        redirected.body = subrequest.body
        redirected.content_type = subrequest.content_type
        return _invoke(request, redirected)
    return response, subrequest


def _describe(response: Response, subrequest: Request) -> dict[str, Any]:
    body: Any = ""
    if subrequest.method != "HEAD" and response.body:
        try:
            body = response.json
        except ValueError:
            body = response.text
    # Kinto's key order: clients may compare the rendered bytes.
    return {
        "path": _display_path(subrequest),
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": body,
    }


def _display_path(subrequest: Request) -> str:
    """The path of a sub-request, unescaped unless it is not UTF-8."""
    try:
        return unquote(subrequest.path)
    except UnicodeDecodeError:
        raw = subrequest.environ["SCRIPT_NAME"] + subrequest.environ["PATH_INFO"]
        return quote(raw.encode("latin-1"), safe=_PATH_SAFE)


@batch.post()
def post_batch(request: Request) -> dict[str, Any]:
    responses = []
    subrequests = [build_subrequest(request, spec) for spec in parse_batch(request)]
    for subrequest in subrequests:
        # Before any sub-request runs; redirections are checked as they come.
        _refuse_if_batch(request, subrequest)
    lock_written_lists(request, subrequests)
    for subrequest in subrequests:
        response, subrequest = _invoke(request, subrequest)
        if response.status_code == 409 or response.status_code >= 500:
            # The batch is one transaction: this failure undoes all of it.
            raise response
        responses.append(_describe(response, subrequest))
    return {"responses": responses}


def includeme(config: Configurator) -> None:
    config.add_cornice_service(batch)
