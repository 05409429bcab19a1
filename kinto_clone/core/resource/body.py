"""Request bodies of resource endpoints: ``{"data": {...}, "permissions": {...}}``.

Parsed and checked here, once, before any handler logic: malformed JSON, wrong
content types, wrong shapes and NUL characters become 4xx errno 107 errors.
"""

from __future__ import annotations

import json
from typing import Any

from pyramid import httpexceptions
from pyramid.request import Request

from kinto_clone.core.errors import ERRORS, http_error, raise_invalid
from kinto_clone.core.resource.patch import JSON_PATCH, MERGE_PATCH

JSON = "application/json"
MAX_DEPTH = 64


def check_accept(request: Request) -> None:
    """406 when the client accepts no JSON at all."""
    accept = request.headers.get("Accept")
    if accept and not request.accept.acceptable_offers([JSON]):
        raise http_error(
            httpexceptions.HTTPNotAcceptable(),
            errno=ERRORS.INVALID_PARAMETERS,
            error="Not Acceptable",
            message="Accept header should be one of ['application/json']",
            details=[
                {
                    "location": "header",
                    "name": "Accept",
                    "description": "Accept header should be one of ['application/json']",
                }
            ],
        )


def _depth(value: Any, limit: int) -> int:
    """Nesting depth, stopping early once ``limit`` is exceeded."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(current, dict):
            stack.extend((child, depth + 1) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, depth + 1) for child in current)
    return deepest


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or _has_nul(child) for key, child in value.items())
    if isinstance(value, list):
        return any(_has_nul(child) for child in value)
    return False


def read_json_body(request: Request, allowed_types: tuple[str, ...] = (JSON,)) -> Any:
    """The decoded body, or ``None`` when empty; 415/400 for anything unusable."""
    raw = request.body
    if not raw or not raw.strip():
        return None
    content_type = request.content_type or ""
    if content_type not in allowed_types:
        description = f"Content-Type header should be one of {list(allowed_types)}"
        request.errors.add("header", "Content-Type", description)
        request.errors.status = 415
        raise_invalid(request, "header", "Content-Type", description)
    try:
        text = raw.decode("utf-8")
        body = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise_invalid(request, "body", None, "Invalid JSON")
    if _depth(body, MAX_DEPTH) > MAX_DEPTH:
        raise_invalid(request, "body", None, f"JSON nested deeper than {MAX_DEPTH} levels")
    if _has_nul(body):
        raise_invalid(request, "body", None, "Invalid character 0x00")
    return body


def parse_object_body(
    request: Request, known_permissions: tuple[str, ...], patch_format: str | None = None
) -> dict[str, Any] | list[Any]:
    """``{"data"?, "permissions"?}`` checked for shape; JSON patch bodies are lists."""
    allowed = (JSON, MERGE_PATCH, JSON_PATCH) if request.method == "PATCH" else (JSON,)
    body = read_json_body(request, allowed)
    if body is None:
        return {}
    if patch_format == JSON_PATCH:
        if not isinstance(body, list):
            raise_invalid(request, "body", None, "JSON Patch body must be a list of operations")
        return body
    if not isinstance(body, dict):
        raise_invalid(request, "body", None, "Body should be a JSON object")
    data = body.get("data")
    merge_removal = patch_format == MERGE_PATCH and data is None
    if "data" in body and not isinstance(data, dict) and not merge_removal:
        raise_invalid(request, "body", "data", "data should be an object")
    permissions = body.get("permissions")
    if "permissions" in body:
        if not isinstance(permissions, dict):
            raise_invalid(request, "body", "permissions", "permissions should be an object")
        for perm, principals in permissions.items():
            if perm not in known_permissions:
                raise_invalid(
                    request, "body", f"permissions.{perm}", f"{perm!r} is not a permission here"
                )
            if principals is None and patch_format == MERGE_PATCH:
                continue
            if not isinstance(principals, list) or not all(isinstance(p, str) for p in principals):
                raise_invalid(
                    request,
                    "body",
                    f"permissions.{perm}",
                    "should be a list of principals (strings)",
                )
    return body
