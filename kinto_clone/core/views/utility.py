"""Utility endpoints: the root document, heartbeats, version and contribute.json."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pyramid import httpexceptions
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import FileResponse, Response

from kinto_clone.core.errors import ERRORS, http_error
from kinto_clone.core.service import Service

hello = Service(name="hello", path="/", description="Welcome")
heartbeat = Service(name="heartbeat", path="/__heartbeat__", description="Server health")
lbheartbeat = Service(name="lbheartbeat", path="/__lbheartbeat__", description="Liveness")
version = Service(name="version", path="/__version__", description="Deployed version")
contribute = Service(name="contribute", path="/contribute.json", description="Project info")

PUBLIC_SETTINGS = ("batch_max_requests", "readonly", "explicit_permissions")


@hello.get()
def get_hello(request: Request) -> dict[str, Any]:
    settings = request.registry.settings
    document: dict[str, Any] = {
        "project_name": settings["project_name"],
        "project_version": request.registry.project_version,
        "http_api_version": request.registry.http_api_version,
        "project_docs": settings["project_docs"],
        "url": request.route_url("hello"),
        "config": None,
        "settings": {name: settings[name] for name in PUBLIC_SETTINGS},
    }
    if settings["eos"]:
        document["eos"] = str(settings["eos"])
    if settings["readonly"]:
        # Nothing changes on a read-only server: let clients and proxies cache it.
        request.response.cache_expires(settings["root_cache_expires_seconds"])
    userid = request.prefixed_userid
    if userid is not None:
        user: dict[str, Any] = {"id": userid, "principals": request.prefixed_principals}
        for contribute_user_info in request.registry.hello_user_hooks:
            contribute_user_info(request, user)
        document["user"] = user
    document["capabilities"] = request.registry.api_capabilities
    return document


def _run_checks(request: Request) -> dict[str, bool]:
    """Run every backend check in parallel, each bounded by the heartbeat timeout."""
    checks = request.registry.heartbeats
    timeout = request.registry.settings["heartbeat_timeout_seconds"]
    results: dict[str, bool] = {}
    with ThreadPoolExecutor(max_workers=max(len(checks), 1)) as pool:
        futures = {name: pool.submit(check, request) for name, check in checks.items()}
        for name, future in futures.items():
            try:
                results[name] = bool(future.result(timeout=timeout))
            except (FutureTimeout, Exception):
                results[name] = False
    return results


@heartbeat.get()
def get_heartbeat(request: Request) -> dict[str, bool]:
    results = _run_checks(request)
    if not all(results.values()):
        request.response.status = 503
    return results


@lbheartbeat.get()
def get_lbheartbeat(request: Request) -> dict[str, Any]:
    return {}


@version.get()
def get_version(request: Request) -> Response:
    path = request.registry.settings["version_json_path"]
    if not path or not os.path.isfile(path):
        raise http_error(
            httpexceptions.HTTPNotFound(),
            errno=ERRORS.MISSING_RESOURCE,
            message="No version file is configured on this server.",
        )
    return FileResponse(path, request=request, content_type="application/json")


@contribute.get()
def get_contribute(request: Request) -> dict[str, Any]:
    return request.registry.contribute_json


def includeme(config: Configurator) -> None:
    here = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    with open(os.path.join(here, "contribute.json"), encoding="utf-8") as handle:
        config.registry.contribute_json = json.load(handle)
    for service in (hello, heartbeat, lbheartbeat, version, contribute):
        config.add_cornice_service(service)
