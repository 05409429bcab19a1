"""Kinto's wording for request bodies of the wrong shape, and nothing else.

Kinto validates bodies with colander schemas behind Cornice, so its 400s carry
colander's sentences, with the offending value printed the Python way
(``"None" is not a mapping type``, ``True is not a string``).  Clients and their
tests match on these messages and on the dotted ``name`` of each error
(``permissions.read.0``), so this server words them identically.  An error
about the body as a whole has the name ``""``, as in Kinto: the message is then
the description alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

WHOLE_BODY = ""
"""The ``name`` of an error about the whole body."""

REQUIRED = "Required"
NOT_AN_OBJECT_OR_ARRAY = "Should be a JSON object or an array"


def invalid_json(reason: object) -> str:
    return f"Invalid JSON: {reason}"


def not_a_mapping(value: Any) -> str:
    return f'"{value}" is not a mapping type: Does not implement dict-like functionality.'


def not_iterable(value: Any) -> str:
    return f'"{value}" is not iterable'


def not_one_of(value: Any, choices: Iterable[str]) -> str:
    return f'"{value}" is not one of {", ".join(choices)}'


def unrecognized_keys(extra: Mapping[str, Any]) -> str:
    """The keys a schema does not know, shown with their values as Kinto does."""
    return f'Unrecognized keys in mapping: "{dict(extra)}"'


def string_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a required string, or ``None`` when it is one.

    Empty values (``""``, ``null``, ``0``, ``false``, ``[]``, ``{}``) count as
    missing, as colander treats them; any other non-string is named.
    """
    if isinstance(value, str) and value:
        return None
    if not value:
        return REQUIRED
    # The odd suffix is part of Kinto's message: colander formats its inner error.
    return f"{value} is not a string: {{'': ''}}"


def list_of_strings_errors(name: str, value: Any) -> list[tuple[str, str]]:
    """``(name, description)`` of each problem of a list of strings (principals, members).

    A bad item is named by its index (``permissions.read.1``); all bad items
    are reported, as Kinto does.
    """
    if not isinstance(value, list):
        return [(name, not_iterable(value))]
    errors = []
    for index, item in enumerate(value):
        problem = string_problem(item)
        if problem:
            errors.append((f"{name}.{index}", problem))
    return errors
