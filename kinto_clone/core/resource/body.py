"""Request bodies of resource endpoints: ``{"data": {...}, "permissions": {...}}``.

Parsed and checked here, once, before any handler logic: malformed JSON, wrong
content types, wrong shapes and NUL characters become 4xx errno 107 errors.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pyramid import httpexceptions
from pyramid.request import Request

from kinto_clone.core.errors import ERRORS, http_error, raise_invalid
from kinto_clone.core.resource.patch import JSON_PATCH, MERGE_PATCH

JSON = "application/json"
# Deep enough for any real document (Kinto 26.5 accepts 70 levels), shallow
# enough that the recursive helpers handling stored objects (deep copies, jsonb
# ordering, merge patches) stay far from Python's recursion limit.
MAX_DEPTH = 128


def check_accept(request: Request) -> None:
    """406 when the client accepts no JSON at all."""
    accept = request.headers.get("Accept")
    if accept and not request.accept.acceptable_offers([JSON]):
        raise http_error(
            httpexceptions.HTTPNotAcceptable(),
            errno=ERRORS.INVALID_PARAMETERS,
            error="Invalid parameters",
            message="Accept header should be one of ['application/json']",
            details=[
                {
                    "location": "header",
                    "name": "Accept",
                    "description": "Accept header should be one of ['application/json']",
                }
            ],
        )


RESPONSE_BEHAVIORS = ("full", "light", "diff")


def response_behavior(request: Request) -> str:
    """The ``Response-Behavior`` header of a PATCH (``full`` when absent)."""
    value = request.headers.get("Response-Behavior", "full")
    if value.lower() not in RESPONSE_BEHAVIORS:
        description = f'"{value}" is not one of {", ".join(RESPONSE_BEHAVIORS)}'
        raise_invalid(request, "header", "Response-Behavior", description)
    return value.lower()


def nesting_depth(value: Any, limit: int) -> int:
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


def _text_problem(value: Any) -> str | None:
    """Why a string of ``value`` (key or value) cannot be stored, if one cannot.

    PostgreSQL's ``jsonb`` rejects NUL characters and unpaired surrogates
    (``"\\ud800"``), which Python's decoder lets through: refusing them here keeps
    every backend able to store what the API accepted.
    """
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
        elif isinstance(current, str):
            if "\x00" in current:
                return "Invalid character 0x00"
            try:
                current.encode("utf-8")
            except UnicodeEncodeError:
                return "Invalid JSON: unpaired surrogate in string"
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """``1e999`` would become ``inf``, which no JSON encoder can write back."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is too big")
    return value


def read_json_body(request: Request, allowed_types: tuple[str, ...] = (JSON,)) -> Any:
    """The decoded body, or ``None`` when empty; 415/400 for anything unusable.

    As in Kinto, a wrong ``Content-Type`` is refused even with an empty body,
    and a body sent without any ``Content-Type`` is read as JSON.
    """
    content_type = request.content_type or ""
    if content_type and content_type not in allowed_types:
        description = f"Content-Type header should be one of {list(allowed_types)}"
        request.errors.status = 415
        raise_invalid(request, "header", "Content-Type", description)
    raw = request.body
    if not raw or not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
        # NaN, Infinity and overflowing numbers are not JSON (RFC 8259) and
        # would make the response itself invalid JSON.
        body = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise_invalid(request, "body", None, f"JSON nested deeper than {MAX_DEPTH} levels")
    except (UnicodeDecodeError, ValueError) as error:
        raise_invalid(request, "body", None, f"Invalid JSON: {error}")
    if nesting_depth(body, MAX_DEPTH) > MAX_DEPTH:
        raise_invalid(request, "body", None, f"JSON nested deeper than {MAX_DEPTH} levels")
    problem = _text_problem(body)
    if problem:
        raise_invalid(request, "body", None, problem)
    return body


def parse_object_body(
    request: Request, known_permissions: tuple[str, ...], patch_format: str | None = None
) -> dict[str, Any] | list[Any]:
    """``{"data"?, "permissions"?}`` checked for shape; JSON patch bodies are lists."""
    # Kinto's order, as listed in its 415 message.
    allowed = (JSON_PATCH, JSON, MERGE_PATCH) if request.method == "PATCH" else (JSON,)
    body = read_json_body(request, allowed)
    if body is None:
        if request.body.strip():  # a literal ``null``, not an empty body
            raise_invalid(request, "body", None, "Body should be a JSON object")
        return {}
    if patch_format == JSON_PATCH:
        if not isinstance(body, list):
            raise_invalid(request, "body", None, "JSON Patch body must be a list of operations")
        return body
    if not isinstance(body, dict):
        raise_invalid(request, "body", None, "Body should be a JSON object")
    unknown = sorted(set(body) - {"data", "permissions"})
    if unknown:
        raise_invalid(request, "body", None, f"Unrecognized keys in mapping: {unknown}")
    data = body.get("data")
    # Even with merge-patch, ``"data": null`` is refused as Kinto does: wiping
    # every field of an object is a PUT.
    if "data" in body and not isinstance(data, dict):
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
            if principals is None:  # ignored, or "remove" with merge-patch
                continue
            if not isinstance(principals, list) or not all(
                isinstance(p, str) and p for p in principals
            ):
                raise_invalid(
                    request,
                    "body",
                    f"permissions.{perm}",
                    "should be a list of principals (strings)",
                )
    return body
