"""How much one list query may ask for: a bounded cost on every backend.

A querystring can hold some 250 KB (waitress's header limit).  Unbounded, that
is enough for shapes no database compiles: SQLite refuses expressions deeper
than 1000 levels, PostgreSQL sorts on at most 1664 terms, and SQLAlchemy's
compiler recurses once per segment of a dotted field.  Beyond each bound below
a request is a 400 errno 107 naming the parameter and the bound, never a 5xx;
within them the SQL built grows linearly with the querystring.  Every bound is
far above what clients send (Kinto's own use a handful of filters on shallow
fields; Kinto 26.5.0 has no bounds and answers 500 or 503 beyond).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyramid.request import Request

from kinto_clone.core.errors import raise_invalid
from kinto_clone.core.resource.body import nesting_depth
from kinto_clone.core.storage import Filter, Sort

MAX_FILTERS = 100
"""Filters (``_since``/``_before`` included) in one query."""
MAX_FILTER_VALUES = 1000
"""Values of all filters of one query, each element of an ``in_``, ``exclude_``,
``contains_`` or ``contains_any_`` list counting as one."""
MAX_FIELD_SEGMENTS = 32
"""Segments of a dotted field name (``a.b.c`` has 3) in filters, ``_sort`` and
``_fields``."""
MAX_VALUE_DEPTH = 32
"""Nesting of the JSON value of a filter (``[[1]]`` is 2 levels deep)."""
MAX_SORT_FIELDS = 20
"""Fields of ``_sort``."""
MAX_PROJECTED_FIELDS = 100
"""Fields of ``_fields``: each is looked up in every object of a page."""


def _refuse(request: Request, name: str, description: str) -> None:
    raise_invalid(request, location="querystring", name=name, description=description)


def check_field(request: Request, name: str, field: str) -> None:
    """400 when the dotted ``field`` of parameter ``name`` is too deep."""
    if field.count(".") >= MAX_FIELD_SEGMENTS:
        _refuse(request, name, f"Field names have at most {MAX_FIELD_SEGMENTS} dotted segments")


def check_value_depth(request: Request, name: str, value: Any) -> None:
    if nesting_depth(value, MAX_VALUE_DEPTH) > MAX_VALUE_DEPTH:
        refuse_too_deep(request, name)


def refuse_too_deep(request: Request, name: str) -> None:
    """For values too deep to parse at all."""
    _refuse(request, name, f"Filter values are nested at most {MAX_VALUE_DEPTH} levels deep")


def check_filters(request: Request, filters: Iterable[tuple[str, Filter]]) -> None:
    """400 when the ``(parameter name, filter)`` pairs of a query are too many,
    or hold too many values."""
    values = 0
    for count, (name, item) in enumerate(filters, start=1):
        if count > MAX_FILTERS:
            _refuse(request, name, f"A query has at most {MAX_FILTERS} filters")
        values += len(item.value) if isinstance(item.value, list) else 1
        if values > MAX_FILTER_VALUES:
            description = f"The filters of a query hold at most {MAX_FILTER_VALUES} values"
            _refuse(request, name, description)


def check_projection(request: Request, fields: list[str]) -> None:
    if len(fields) > MAX_PROJECTED_FIELDS:
        _refuse(request, "_fields", f"At most {MAX_PROJECTED_FIELDS} fields to return")
    for field in fields:
        check_field(request, "_fields", field)


def check_sorting(request: Request, sorting: list[Sort]) -> None:
    if len(sorting) > MAX_SORT_FIELDS:
        _refuse(request, "_sort", f"At most {MAX_SORT_FIELDS} fields to sort on")
    for sort in sorting:
        check_field(request, "_sort", sort.field)
