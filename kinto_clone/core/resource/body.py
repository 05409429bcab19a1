"""Request bodies of resource endpoints: ``{"data": {...}, "permissions": {...}}``.

Parsed and checked here, once, before any handler logic: malformed JSON, wrong
content types, wrong shapes and NUL characters become 4xx errno 107 errors.
"""

from __future__ import annotations

from typing import Any

from pyramid import httpexceptions
from pyramid.request import Request

from kinto_clone.core import json_values
from kinto_clone.core import validation_messages as messages
from kinto_clone.core.errors import ERRORS, http_error, raise_all_invalid, raise_invalid
from kinto_clone.core.resource.patch import JSON_PATCH, MERGE_PATCH, check_operations

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


def _may_nest_too_deep(text: str) -> bool:
    """Whether a document parsed from ``text`` could nest deeper than ``MAX_DEPTH``.

    Each level below the top is an object or array opened in the text, so with
    fewer brackets than ``MAX_DEPTH`` (counting those inside strings only errs
    on the safe side) the walk of :func:`nesting_depth` is not needed.
    """
    return text.count("{") + text.count("[") >= MAX_DEPTH


def _may_hold_unstorable_text(text: str) -> bool:
    """Whether a document parsed from ``text`` could hold a string
    :func:`_text_problem` refuses.

    The decoder copies every character of a string from the text, except the
    escapes; only a ``\\u`` escape can make a NUL or a lone surrogate.  Without
    one, the text itself tells, in C, rather than a walk of every string.
    """
    if "\\u" in text or "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_json_body(request: Request, allowed_types: tuple[str, ...] = (JSON,)) -> Any:
    """The decoded object or array, or ``None`` when empty; 415/400 for anything unusable.

    As in Kinto, a wrong ``Content-Type`` is refused even with an empty body,
    and a body sent without any ``Content-Type`` is read as JSON.  A body that
    is not JSON, or is a bare scalar, is refused in Kinto's words: the reason,
    then ``Required`` since no usable body remains.
    """
    content_type = request.content_type or ""
    if content_type and content_type not in allowed_types:
        description = f"Content-Type header should be one of {list(allowed_types)}"
        request.errors.status = 415
        raise_invalid(request, "header", "Content-Type", description)
    raw = request.body
    if not raw:
        return None
    try:
        # The declared charset, as Kinto decodes it (UTF-8 when none is given).
        text = raw.decode(request.charset or "utf-8")
        # NaN, Infinity and overflowing numbers are not JSON (RFC 8259) and
        # would make the response itself invalid JSON.
        body = json_values.loads(text)
    except RecursionError:
        raise_invalid(request, "body", None, f"JSON nested deeper than {MAX_DEPTH} levels")
    except (UnicodeDecodeError, LookupError, ValueError) as error:
        _raise_unusable_body(request, messages.invalid_json(error))
    if not isinstance(body, dict | list):
        _raise_unusable_body(request, messages.NOT_AN_OBJECT_OR_ARRAY)
    if _may_nest_too_deep(text) and nesting_depth(body, MAX_DEPTH) > MAX_DEPTH:
        raise_invalid(request, "body", None, f"JSON nested deeper than {MAX_DEPTH} levels")
    problem = _text_problem(body) if _may_hold_unstorable_text(text) else None
    if problem:
        raise_invalid(request, "body", None, problem)
    return body


def _raise_unusable_body(request: Request, reason: str) -> None:
    raise_all_invalid(
        request, [(messages.WHOLE_BODY, reason), (messages.WHOLE_BODY, messages.REQUIRED)]
    )


def parse_object_body(
    request: Request, known_permissions: tuple[str, ...], patch_format: str | None = None
) -> dict[str, Any] | list[Any]:
    """``{"data"?, "permissions"?}`` checked for shape; JSON patch bodies are lists."""
    # Kinto lists these in an order that changes from one process to the next
    # (it comes from a set); this is one of them.
    allowed = (JSON_PATCH, JSON, MERGE_PATCH) if request.method == "PATCH" else (JSON,)
    body = read_json_body(request, allowed)
    if patch_format == JSON_PATCH:
        # As in Kinto, an empty body reads as ``{}``: not a list of operations.
        return _json_patch_operations(request, body if request.body.strip() else {})
    if body is None:
        return {}
    raise_all_invalid(request, _object_body_errors(body, known_permissions))
    return body


def _object_body_errors(body: Any, known_permissions: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every problem of an object body, named and worded as Kinto names them.

    Unknown top-level keys hide the other problems, as in Kinto.
    """
    if not isinstance(body, dict):
        return [(messages.WHOLE_BODY, messages.not_a_mapping(body))]
    unknown = {key: value for key, value in body.items() if key not in ("data", "permissions")}
    if unknown:
        return [(messages.WHOLE_BODY, messages.unrecognized_keys(unknown))]
    errors = []
    # Even with merge-patch, ``"data": null`` is refused as Kinto does: wiping
    # every field of an object is a PUT.
    if "data" in body and not isinstance(body["data"], dict):
        errors.append(("data", messages.not_a_mapping(body["data"])))
    if "permissions" in body:
        errors.extend(_permissions_errors(body["permissions"], known_permissions))
    return errors


def _permissions_errors(permissions: Any, known: tuple[str, ...]) -> list[tuple[str, str]]:
    if not isinstance(permissions, dict):
        return [("permissions", messages.not_a_mapping(permissions))]
    # A ``null`` list is ignored (or, with merge-patch, removes the permission)
    # whatever its name, as in Kinto.
    given = {perm: value for perm, value in permissions.items() if value is not None}
    for perm in given:
        if perm not in known:
            return [("permissions", messages.not_one_of(perm, known))]
    errors = []
    for perm, principals in given.items():
        errors.extend(messages.list_of_strings_errors(f"permissions.{perm}", principals))
    return errors


def _json_patch_operations(request: Request, body: Any) -> list[dict[str, Any]]:
    """A JSON patch body: a list of operations, refused with Kinto's errors otherwise."""
    if isinstance(body, dict):
        raise_invalid(request, "body", "", f'"{body}" is not iterable')
    if not isinstance(body, list):
        request.errors.add("body", "", "Should be a JSON object or an array")
        raise_invalid(request, "body", "", "Required")
    operations, errors = check_operations(body)
    if errors:
        for name, description in errors[:-1]:
            request.errors.add("body", name, description)
        raise_invalid(request, "body", *errors[-1])
    return operations
