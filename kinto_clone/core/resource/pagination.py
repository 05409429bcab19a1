"""Keyset pagination: ``Next-Page`` URLs carrying an opaque ``_token``.

The token records the sort-field values of the last object served; the next page
asks the backend for objects strictly *after* it in the sort order (see
:func:`pagination_rules`).  Unlike offsets, this delivers every object exactly
once even while others write, because ``last_modified`` (always part of the
sort) is unique within a parent (lists over several parents, such as accounts,
add the id).  Tokens of plural DELETEs are single-use: their nonce is kept in
the cache and consumed.

A token comes back from the client: :func:`decode_token` bounds its size,
nesting and types before anything else reads it, and answers Kinto's 400 for
anything this server could not have issued.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any

from pyramid.encode import quote_plus
from pyramid.request import Request

from kinto_clone.core import json_values
from kinto_clone.core.errors import raise_invalid, request_GET
from kinto_clone.core.resource.body import MAX_DEPTH
from kinto_clone.core.resource.querystring import is_valid_timestamp
from kinto_clone.core.storage import COMPARISON, DEFAULT_ID_FIELD, MISSING, Filter, Sort
from kinto_clone.core.storage.filtering import find_value

# Kinto 26.5.0's description of any malformed token.
INVALID_TOKEN = "_token has invalid content"
# Longer URLs do not reach the application anyway: waitress refuses request
# lines and headers beyond 256 KiB by default.
MAX_TOKEN_LENGTH = 256 * 1024
# Sort values are values of stored objects, held two levels down in the token.
# Request bodies nest at most MAX_DEPTH levels, but a JSON patch may put such a
# body deep inside an object: twice as deep, and still far from Python's
# recursion limit in the backends' recursive order keys.
MAX_TOKEN_DEPTH = 2 * MAX_DEPTH + 2
NONCE_PREFIX = "pagination-token-"
NONCE_RE = re.compile(re.escape(NONCE_PREFIX) + r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")


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


class InvalidTokenError(ValueError):
    """A ``_token`` this server could not have issued."""


def build_token(
    request: Request, sorting: list[Sort], last_object: dict[str, Any], offset: int
) -> str:
    """The ``_token`` of the page after ``last_object``: its sort values, base64 JSON."""
    nonce = f"{NONCE_PREFIX}{uuid.uuid4()}"
    if request.method == "DELETE":
        validity = request.registry.settings["pagination_token_validity_seconds"]
        request.registry.cache.set(nonce, "", validity)
    values = {}
    for sort in sorting:
        # Found as the backends find it, dotted keys included.
        value = find_value(last_object, sort.field)
        if value is not MISSING:
            values[sort.field] = value
    token = {"last_object": values, "offset": offset, "nonce": nonce}
    text = json.dumps(token, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def decode_token(
    token: str, sorting: list[Sort], id_field: str, modified_field: str
) -> tuple[dict[str, Any], int, str]:
    """The last object's sort values, the offset and the nonce a ``_token`` holds.

    Every step is linear in the token's length, which is bounded; anything a
    server cannot have issued raises :class:`InvalidTokenError`.  Sort values
    may be any JSON value a stored object may hold, arrays and objects included
    (Kinto 26.5.0 refuses those, so that its pages after one sorted on an array
    are unreachable).
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError("too long")
    try:
        padded = token + "=" * (-len(token) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        info = json_values.loads(text)
    except (ValueError, UnicodeError, binascii.Error, RecursionError) as error:
        raise InvalidTokenError("not base64 JSON") from error
    _check_json(info)
    if not isinstance(info, dict):
        raise InvalidTokenError("not an object")
    last_object, offset, nonce = (info.get(key) for key in ("last_object", "offset", "nonce"))
    if not isinstance(last_object, dict):
        raise InvalidTokenError("bad last_object")
    if not isinstance(nonce, str) or not NONCE_RE.fullmatch(nonce):
        raise InvalidTokenError("bad nonce")
    if not is_valid_timestamp(offset):  # a non-negative 64-bit integer, as a timestamp
        raise InvalidTokenError("bad offset")
    for sort in sorting:
        value = last_object.get(sort.field, MISSING)
        # Stored objects always have an id (a string) and a timestamp.
        if sort.field == modified_field and not is_valid_timestamp(value):
            raise InvalidTokenError("bad timestamp")
        if sort.field == id_field and not isinstance(value, str):
            raise InvalidTokenError("bad id")
    return last_object, offset, nonce


def _check_json(value: Any) -> None:
    """Refuse what no stored object holds: nesting beyond :data:`MAX_TOKEN_DEPTH`,
    NUL characters and unpaired surrogates (as request bodies, see
    :mod:`.body`).  Iterative, so that no depth can exhaust the stack."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_TOKEN_DEPTH:
            raise InvalidTokenError("nested too deeply")
        if isinstance(current, dict):
            for key, child in current.items():
                _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(current, list):
            stack.extend((child, depth + 1) for child in current)
        elif isinstance(current, str):
            _check_text(current)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise InvalidTokenError("NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidTokenError("unpaired surrogate") from error


def rules_from_token(
    request: Request,
    token: str | None,
    sorting: list[Sort],
    modified_field: str,
    id_field: str = DEFAULT_ID_FIELD,
) -> tuple[list[list[Filter]], int]:
    """The pagination rules and offset a ``_token`` stands for (400 if tampered)."""
    if not token:
        return [], 0
    error = None
    try:
        last_object, offset, nonce = decode_token(token, sorting, id_field, modified_field)
    except InvalidTokenError:
        error = INVALID_TOKEN
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
    """The URL of this request, with ``_limit`` and a new ``_token``, spelled
    as Pyramid's ``current_route_url`` would.

    Pyramid quotes every value one character at a time as soon as one needs
    quoting, as the token does (its base64 padding): a tenth of a list
    request's time.  The token, of the URL-safe base64 alphabet, is quoted
    here by replacing its ``=``; the other values as Pyramid quotes them.
    """
    params = dict(request_GET(request))
    params["_limit"] = str(limit)
    params["_token"] = build_token(request, sorting, last_object, offset)
    query = "&".join(
        f"{quote_plus(name)}={_quoted_token(value) if name == '_token' else quote_plus(value)}"
        for name, value in params.items()
    )
    return f"{request.current_route_url(_query={})}?{query}"


def _quoted_token(token: str) -> str:
    return token.replace("=", "%3D")
