"""Filters and sorts evaluated in Python on plain JSON objects.

The memory backend answers every query with these functions (the resource layer
may use them too).  They reproduce what Kinto's PostgreSQL backend does with
``jsonb`` columns, so that a client sees the same objects in the same order
whichever backend runs:

* Values of different JSON types never raise when compared: they are ordered
  ``null < string < number < boolean < array < object``, PostgreSQL's ``jsonb``
  order, which Kinto's memory backend emulates too.  Arrays compare by length
  first, then element by element; objects by number of keys, then key, value,
  key, value... with keys taken shorter first (``jsonb``'s storage order) but
  compared as strings, again as ``jsonb`` does.  Like ``jsonb``, an empty array
  sorts before ``null`` (not inside another array or object).
  Strings compare by code point, where PostgreSQL would use the database collation.
* An absent field (:data:`~kinto_clone.core.storage.MISSING`) is greater than
  every value, like SQL ``NULL`` under ``NULLS LAST``: ``gt``/``min`` filters
  match objects lacking the field, ``lt``/``max`` filters and ``==`` do not,
  ``!=`` does.  ``MISSING`` given as a filter *value* (pagination tokens of
  objects lacking the sort field) follows from the same order: ``== MISSING``
  means "absent", ``< MISSING`` "present".
* ``like`` is case-insensitive, anchored, with ``*`` as its only wildcard (all
  other characters are literal); without any ``*`` it matches a substring.
  Non-string values are matched against their JSON text, as PostgreSQL's
  ``->>`` would render them; ``null`` and absent fields never match.
* ``contains``/``contains_any`` only match array fields; a scalar value stands
  for a one-element list.  Elements are compared by JSON equality.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TypeVar

from kinto_clone.core.storage import COMPARISON, DEFAULT_ID_FIELD, MISSING, Filter, Object, Sort

__all__ = [
    "Bound",
    "compile_filters",
    "compile_rules",
    "find_value",
    "numeric_range",
    "order_key",
    "pattern_matcher",
    "sort_objects",
]

Predicate = Callable[[Object], bool]
T = TypeVar("T")

# Ranks of the JSON types in PostgreSQL's jsonb order; an absent field comes last.
_EMPTY_ARRAY, _NULL, _STRING, _NUMBER, _BOOLEAN, _ARRAY, _OBJECT, _ABSENT = range(-1, 7)

# Comparisons bounding a field from below / above, and whether they include the value.
_LOWER_BOUNDS = {COMPARISON.EQ: True, COMPARISON.GT: False, COMPARISON.MIN: True}
_UPPER_BOUNDS = {COMPARISON.EQ: True, COMPARISON.LT: False, COMPARISON.MAX: True}


class Bound(NamedTuple):
    """One end of a range of numbers, ``value`` itself included or not."""

    value: int | float
    inclusive: bool


def find_value(obj: Object, path: str) -> Any:
    """The value at the dotted ``path`` in ``obj``, or ``MISSING``.

    Keys may contain dots themselves (``{"a.b": 1}``): the longest key matching
    a prefix of the path is followed, as Kinto's memory backend does.
    """
    if path in obj:
        return obj[path]
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in obj:
            child = obj[head]
            if isinstance(child, dict):
                return find_value(child, ".".join(parts[cut:]))
            return MISSING
    return MISSING


def order_key(value: Any) -> tuple:
    """A key giving any JSON value (or ``MISSING``) its place in the jsonb order.

    Equal keys mean equal JSON values (``1 == 1.0`` but ``1 != true``), so the
    key also serves for equality and membership tests.
    """
    if isinstance(value, list | tuple) and not value:
        # PostgreSQL puts an empty array before null, "for historical reasons",
        # but only at the top: ``[[]]`` is an array like ``[[1]]``.
        return (_EMPTY_ARRAY,)
    return _nested_order_key(value)


def _nested_order_key(value: Any) -> tuple:
    if value is MISSING:
        return (_ABSENT,)
    if value is None:
        return (_NULL,)
    if isinstance(value, bool):
        return (_BOOLEAN, value)
    if isinstance(value, int | float):
        return (_NUMBER, value)
    if isinstance(value, str):
        return (_STRING, value)
    if isinstance(value, list | tuple):
        return (_ARRAY, len(value), tuple(_nested_order_key(item) for item in value))
    if isinstance(value, dict):
        # Pairs in jsonb's storage order (shorter keys first), then compared
        # key, value, key, value... (keys as strings, not by length).
        pairs = sorted(value.items(), key=lambda pair: (len(pair[0].encode()), pair[0]))
        keyed = tuple((key, _nested_order_key(item)) for key, item in pairs)
        return (_OBJECT, len(value), keyed)
    raise TypeError(f"{value!r} is not a JSON value")


def pattern_matcher(pattern: str) -> Callable[[str], bool]:
    """A test for strings matching ``pattern``, where ``*`` stands for any text.

    Used for ``parent_id`` patterns such as ``/buckets/b/collections/*``.
    """
    if "*" not in pattern:
        return lambda candidate: candidate == pattern
    return _wildcard_matcher(pattern)


def compile_filters(filters: Iterable[Filter], id_field: str = DEFAULT_ID_FIELD) -> Predicate:
    """A predicate true for objects matching every filter.

    Values are prepared once (keys, sets, regexps) so that evaluating the
    predicate over thousands of objects stays cheap.
    """
    tests = [_compile(one, id_field) for one in filters]
    if len(tests) == 1:
        return tests[0]
    return lambda obj: all(test(obj) for test in tests)


def compile_rules(
    rules: Iterable[Iterable[Filter]], id_field: str = DEFAULT_ID_FIELD
) -> Predicate:
    """A predicate true for objects matching at least one list of filters.

    That is the shape of keyset pagination rules: "same values on the first sort
    fields and after the last object on the next one", for each prefix.
    """
    alternatives = [compile_filters(rule, id_field) for rule in rules]
    return lambda obj: any(alternative(obj) for alternative in alternatives)


def sort_objects(
    items: Iterable[T], sorting: Iterable[Sort], object_of: Callable[[T], Object]
) -> list[T]:
    """``items`` ordered by ``sorting``; ``object_of`` gives the object of an item.

    One stable pass per field, from the last to the first, so earlier fields
    win and ties keep their incoming order.  Absent fields come last in
    ascending order and first in descending order, like PostgreSQL's defaults.
    """
    result = list(items)
    for field, direction in reversed(list(sorting)):
        result.sort(key=_field_key(field, object_of), reverse=direction < 0)
    return result


def numeric_range(
    filters: Iterable[Filter], field: str
) -> tuple[Bound | None, Bound | None, list[Filter]]:
    """The lowest and highest values ``filters`` allow in ``field``, and the other filters.

    Only comparisons of ``field`` with a number bound it (``None``: unbounded).
    A backend keeping objects ordered by a numeric field (the memory backend's
    timestamps) walks that range instead of testing every object.  For objects
    whose ``field`` holds a number, being in the range is exactly what those
    comparisons test, so only the returned filters remain to be applied.
    """
    low: Bound | None = None
    high: Bound | None = None
    others = []
    for one in filters:
        bounds_it = one.operator in _LOWER_BOUNDS or one.operator in _UPPER_BOUNDS
        if one.field != field or not bounds_it or _scalar_kind(one.value) is not float:
            others.append(one)
            continue
        if one.operator in _LOWER_BOUNDS:
            low = _narrower(low, Bound(one.value, _LOWER_BOUNDS[one.operator]), operator.gt)
        if one.operator in _UPPER_BOUNDS:
            high = _narrower(high, Bound(one.value, _UPPER_BOUNDS[one.operator]), operator.lt)
    return low, high, others


def _narrower(
    current: Bound | None, candidate: Bound, beyond: Callable[[Any, Any], bool]
) -> Bound:
    """The bound leaving the least room: further in (``beyond``), or excluding its value."""
    if current is None or beyond(candidate.value, current.value):
        return candidate
    if candidate.value == current.value and not candidate.inclusive:
        return candidate
    return current


def _field_key(field: str, object_of: Callable[[T], Object]) -> Callable[[T], tuple]:
    return lambda item: order_key(find_value(object_of(item), field))


def _compile(one: Filter, id_field: str) -> Predicate:
    field, value, op = one
    if field == id_field and isinstance(value, int) and not isinstance(value, bool):
        # Ids are strings, but ``?id=42`` parses as a number.
        value = str(value)

    def found(obj: Object) -> Any:
        return find_value(obj, field)

    match op:
        case COMPARISON.HAS:
            wanted = bool(value)
            return lambda obj: (found(obj) is not MISSING) == wanted
        case COMPARISON.IN | COMPARISON.EXCLUDE:
            keys = {order_key(item) for item in value}
            if op is COMPARISON.IN:
                return lambda obj: order_key(found(obj)) in keys
            return lambda obj: order_key(found(obj)) not in keys
        case COMPARISON.LIKE:
            text = str(value)
            matches = _wildcard_matcher(text if "*" in text else f"*{text}*", str.lower)

            def like(obj: Object) -> bool:
                rendered = _as_text(found(obj))
                return rendered is not None and matches(rendered)

            return like
        case COMPARISON.CONTAINS | COMPARISON.CONTAINS_ANY:
            items = value if isinstance(value, list | tuple) else [value]
            wanted_keys = [order_key(item) for item in items]
            combine = all if op is COMPARISON.CONTAINS else any

            def contains(obj: Object) -> bool:
                array = found(obj)
                if not isinstance(array, list):
                    return False
                present = {order_key(item) for item in array}
                return combine(key in present for key in wanted_keys)

            return contains
    compare = {
        COMPARISON.EQ: operator.eq,
        COMPARISON.NOT: operator.ne,
        COMPARISON.LT: operator.lt,
        COMPARISON.MAX: operator.le,
        COMPARISON.GT: operator.gt,
        COMPARISON.MIN: operator.ge,
    }[op]
    reference = order_key(value)
    scalar_kind = _scalar_kind(value)
    if scalar_kind is None:
        return lambda obj: compare(order_key(found(obj)), reference)

    def compare_scalar(obj: Object) -> bool:
        # Same-kind scalars order naturally: skip building jsonb order keys,
        # the cost of filtering thousands of objects.
        candidate = found(obj)
        if _scalar_kind(candidate) is scalar_kind:
            return compare(candidate, value)
        return compare(order_key(candidate), reference)

    return compare_scalar


def _scalar_kind(value: Any) -> type | None:
    """``str`` or ``float`` (any number, not booleans), else ``None``."""
    if isinstance(value, str):
        return str
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float
    return None


def _same(text: str) -> str:
    return text


def _wildcard_matcher(pattern: str, fold: Callable[[str], str] = _same) -> Callable[[str], bool]:
    """A test for whole texts matching ``pattern`` (holding a ``*``, any text),
    compared through ``fold`` (``str.lower`` for case-insensitive ``like``).

    Each part between stars is placed at its leftmost position after the
    previous one, which is right for ``*``-only patterns and costs at most
    the text's length times the pattern's: the equivalent regular expression
    (``.*a.*a.*b``) backtracks exponentially on texts that almost match.
    """
    first, *middle, last = fold(pattern).split("*")

    def matches(candidate: str) -> bool:
        text = fold(candidate)
        end = len(text) - len(last)
        if end < len(first) or not (text.startswith(first) and text.endswith(last)):
            return False
        position = len(first)
        for part in middle:
            found = text.find(part, position, end)
            if found < 0:
                return False
            position = found + len(part)
        return True

    return matches


def _as_text(value: Any) -> str | None:
    """The text ``like`` matches against: PostgreSQL's ``->>`` rendering."""
    if value is MISSING or value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
