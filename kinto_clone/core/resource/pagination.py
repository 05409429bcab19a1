"""Keyset pagination: ``Next-Page`` URLs carrying an opaque ``_token``.

The token records the sort-field values of the last object served; the next page
asks the backend for objects strictly *after* it in the sort order (see
:func:`pagination_rules`).  Unlike offsets, this delivers every object exactly
once even while others write, because ``last_modified`` (always part of the
sort) is unique within a list.  Tokens of plural DELETEs are single-use: their
nonce is kept in the cache and consumed.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from pyramid.request import Request

from kinto_clone.core.errors import raise_invalid, request_GET
from kinto_clone.core.resource.querystring import has_null_character, is_valid_timestamp
from kinto_clone.core.storage import COMPARISON, MISSING, Filter, Sort


def find_nested_value(obj: dict[str, Any], path: str, default: Any = None) -> Any:
    """Value at a dotted ``path``; a key containing dots wins over nesting."""
    if path in obj:
        return obj[path]
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return default
        current = current[part]
    return current


def pagination_rules(sorting: list[Sort], last_object: dict[str, Any]) -> list[list[Filter]]:
    """OR-ed conditions selecting the objects after ``last_object``.

    For sorting ``(a, b, c)``: ``c`` beyond the last value with ``a`` and ``b``
    equal, or ``b`` beyond with ``a`` equal, or ``a`` beyond.
    """
    rules = []
    for position in range(len(sorting), 0, -1):
        rule = [
            Filter(sort.field, last_object.get(sort.field, MISSING), COMPARISON.EQ)
            for sort in sorting[: position - 1]
        ]
        last = sorting[position - 1]
        operator = COMPARISON.LT if last.direction < 0 else COMPARISON.GT
        rule.append(Filter(last.field, last_object.get(last.field, MISSING), operator))
        rules.append(rule)
    return rules


def build_token(
    request: Request, sorting: list[Sort], last_object: dict[str, Any], offset: int
) -> str:
    nonce = f"pagination-token-{uuid.uuid4()}"
    if request.method == "DELETE":
        validity = request.registry.settings["pagination_token_validity_seconds"]
        request.registry.cache.set(nonce, "", validity)
    values = {}
    for sort in sorting:
        value = find_nested_value(last_object, sort.field, MISSING)
        if value is not MISSING:
            values[sort.field] = value
    token = {"last_object": values, "offset": offset, "nonce": nonce}
    text = json.dumps(token, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def _decode_token(token: str, sorting: list[Sort], modified_field: str) -> tuple[dict, int, str]:
    padded = token + "=" * (-len(token) % 4)
    info = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
    if not isinstance(info, dict):
        raise ValueError("not an object")
    last_object, offset, nonce = info["last_object"], info["offset"], info["nonce"]
    if not isinstance(last_object, dict) or not isinstance(nonce, str):
        raise ValueError("bad types")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError("bad offset")
    for sort in sorting:
        value = last_object.get(sort.field, MISSING)
        if sort.field == modified_field:
            if not is_valid_timestamp(value):
                raise ValueError("bad timestamp")
        elif value is not MISSING and (
            isinstance(value, dict | list) or has_null_character(value)
        ):
            raise ValueError("bad value")
    return last_object, offset, nonce


def rules_from_token(
    request: Request, token: str | None, sorting: list[Sort], modified_field: str
) -> tuple[list[list[Filter]], int]:
    """The pagination rules and offset a ``_token`` stands for (400 if tampered)."""
    if not token:
        return [], 0
    error = None
    try:
        last_object, offset, nonce = _decode_token(token, sorting, modified_field)
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
        error = "_token has invalid content"
    else:
        if request.method == "DELETE" and request.registry.cache.delete(nonce) is None:
            error = "_token was already used or has expired."
    if error:
        # Kinto names no parameter here; clients only show the message.
        raise_invalid(request, location="querystring", name=None, description=error)
    return pagination_rules(sorting, last_object), offset


def next_page_url(
    request: Request, sorting: list[Sort], limit: int, last_object: dict[str, Any], offset: int
) -> str:
    params = dict(request_GET(request))
    params["_limit"] = str(limit)
    params["_token"] = build_token(request, sorting, last_object, offset)
    return request.current_route_url(_query=params)
