"""Parsing of list querystrings: filters, sorting, limit, fields and tokens.

Values are parsed JSON-first like Kinto (``?n=2`` is the integer 2, ``?n="2"``
the string) and every malformed parameter is a 400 errno 107 naming it, never a
500.  The result is a :class:`ListQuery` the resource hands to the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyramid.request import Request

from kinto_clone.core import json_values
from kinto_clone.core.errors import raise_invalid, request_GET, send_alert
from kinto_clone.core.resource import query_limits
from kinto_clone.core.storage import COMPARISON, Filter, Sort

MAX_BIG_INTEGER = 2**63 - 1
TIMESTAMP_PARAMS = {"_since": COMPARISON.GT, "_before": COMPARISON.LT, "_to": COMPARISON.LT}
# Where Kinto's ``Alert`` about ``_to`` points (the version that deprecated it).
TO_DEPRECATION_URL = (
    "https://kinto.readthedocs.io/en/2.4.0/api/resource.html#list-of-available-url-parameters"
)
RESERVED_PARAMS = {"_limit", "_sort", "_token", "_fields"}
_PREFIXES = {operator.name.lower(): operator for operator in COMPARISON}
_FILTER_RE = re.compile(
    r"^(" + "|".join(sorted(_PREFIXES, key=len, reverse=True)) + r")_([\w.]+)$"
)
# Field names are free-form JSON keys (``my-field`` included), as in Kinto:
# the storage layer passes them as parameters, never as SQL.
_SORT_RE = re.compile(r"^([-+]?)(.+)$", re.DOTALL)
_FIELD_RE = re.compile(r"^.+$", re.DOTALL)


@dataclass
class ListQuery:
    filters: list[Filter] = field(default_factory=list)
    sorting: list[Sort] = field(default_factory=list)
    limit: int = 0
    token: str | None = None
    fields: list[str] | None = None

    @property
    def filters_on_timestamp(self) -> bool:
        """Lists filtered on ``last_modified`` include tombstones (sync)."""
        return any(f.field == "last_modified" for f in self.filters)


def native_value(value: str) -> Any:
    """A filter value read as JSON (``?n=2`` is the number 2), else the string itself.

    As in Kinto, what no JSON document can hold stays a string: ``NaN``,
    ``Infinity``, ``1e999`` (so they never reach a database that cannot take
    them, PostgreSQL's ``jsonb`` among them).  Integers stay exact, as in the
    documents they are compared with (Kinto turns those beyond 64 bits into
    floats).
    """
    try:
        return json_values.loads(value)
    except ValueError:
        return value


def has_null_character(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(has_null_character(v) for v in value)
    if isinstance(value, dict):
        return any(has_null_character(k) or has_null_character(v) for k, v in value.items())
    return False


def parse_timestamp(text: str) -> int | None:
    """The timestamp (or limit) ``text`` spells, up to 2**63 - 1, else ``None``.

    Decimal digits of any script, as ``int()`` reads them (so does Kinto), but
    checked first: ``str.isdigit()`` also takes ``"²"``, which ``int()``
    refuses, and ``int()`` refuses numbers of more than 4300 digits (both
    were 500s, in Kinto too).
    """
    if not text.isdecimal():
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(MAX_BIG_INTEGER)):
        return None
    value = int(significant)
    return value if value <= MAX_BIG_INTEGER else None


# The latest timestamp a client may give an object (year 5138, in milliseconds).
# Every later write in its list gets a greater one: the room left up to year 9999,
# beyond which no ``Last-Modified`` date can be written (a 500 in Kinto), is
# room for 1.5e14 of them.
MAX_CLIENT_TIMESTAMP = 10**14


def is_valid_client_timestamp(value: Any) -> bool:
    """Whether a client may set ``last_modified`` to ``value`` (bodies, deletes)."""
    return is_valid_timestamp(value) and value <= MAX_CLIENT_TIMESTAMP


def is_valid_timestamp(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_BIG_INTEGER


def _invalid(request: Request, name: str, description: str | None = None) -> None:
    raise_invalid(
        request,
        location="querystring",
        name=name,
        description=description or f"Invalid value for {name}",
    )


def _timestamp(request: Request, name: str, raw: str) -> int | None:
    """A timestamp parameter: an integer, its ETag form ``"123"``, or ``null``."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if value == "null":
        return None
    timestamp = parse_timestamp(value)
    if timestamp is None:
        _invalid(request, name)
    return timestamp


def _comma_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def parse_limit(request: Request, params: Any) -> int:
    """``_limit``, capped by ``paginate_by`` and ``storage_max_fetch_size``."""
    settings = request.registry.settings
    paginate_by = settings["paginate_by"]
    max_fetch = settings["storage_max_fetch_size"]
    limit = paginate_by
    raw = params.get("_limit")
    if raw is not None and raw.strip():  # ``_limit=`` is ignored, as by Kinto
        parsed = parse_timestamp(raw.strip())
        if parsed is None:
            _invalid(request, "_limit")
        limit = parsed
        if paginate_by:
            limit = min(limit, paginate_by)
    return min(limit, max_fetch) if limit else max_fetch


def parse_fields(request: Request, params: Any) -> list[str] | None:
    raw = params.get("_fields")
    if raw is None:
        return None
    fields = _comma_list(raw)
    for name in fields:
        if not _FIELD_RE.match(name):
            _invalid(request, "_fields")
    query_limits.check_projection(request, fields)
    return fields


def parse_filters(
    request: Request, params: Any, id_field: str, modified_field: str
) -> list[Filter]:
    named: list[tuple[str, Filter]] = []
    for raw_name, raw_value in params.items():
        name = raw_name.strip()
        if "\x00" in name or "\x00" in raw_value:
            _invalid(request, name, "Invalid character 0x00")
        if name in TIMESTAMP_PARAMS:
            if name == "_to":
                send_alert(
                    request,
                    "_to is now deprecated, you should use _before instead",
                    url=TO_DEPRECATION_URL,
                )
            value = _timestamp(request, name, raw_value)
            named.append((name, Filter(modified_field, value, TIMESTAMP_PARAMS[name])))
            continue
        if name.startswith("_"):
            continue
        match = _FILTER_RE.match(name)
        if match:
            operator, field_name = _PREFIXES[match.group(1)], match.group(2)
        else:
            operator, field_name = COMPARISON.EQ, name
        if not _FIELD_RE.match(field_name):
            _invalid(request, name, f"Unknown filter field '{name}'")
        query_limits.check_field(request, name, field_name)
        try:
            value = _filter_value(
                request, name, raw_value, operator, field_name, id_field, modified_field
            )
        except RecursionError:
            query_limits.refuse_too_deep(request, name)
        query_limits.check_value_depth(request, name, value)
        if has_null_character(value):
            _invalid(request, name, "Invalid character 0x00")
        named.append((name, Filter(field_name, value, operator)))
    query_limits.check_filters(request, named)
    return [item for _, item in named]


def _filter_value(
    request: Request,
    name: str,
    raw_value: str,
    operator: COMPARISON,
    field_name: str,
    id_field: str,
    modified_field: str,
) -> Any:
    value: Any
    if operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
        value = [native_value(part) for part in _comma_list(raw_value)]
    elif operator in (COMPARISON.CONTAINS, COMPARISON.CONTAINS_ANY):
        if field_name in (id_field, modified_field):
            _invalid(request, name, f"Field '{field_name}' is not an array")
        parsed = native_value(raw_value)
        value = parsed if isinstance(parsed, list) else [parsed]
    elif field_name == id_field and operator is not COMPARISON.HAS:
        value = raw_value
    elif field_name == modified_field and operator is not COMPARISON.HAS:
        value = _timestamp(request, name, raw_value)
    else:
        value = native_value(raw_value)

    if operator is COMPARISON.LIKE and not isinstance(value, str):
        _invalid(request, name)
    if operator in (COMPARISON.IN, COMPARISON.EXCLUDE):
        if field_name == id_field:
            value = [str(v) if not isinstance(v, str) else v for v in value]
        elif field_name == modified_field and not all(is_valid_timestamp(v) for v in value):
            _invalid(request, name)
    return value


def parse_sorting(request: Request, params: Any, modified_field: str) -> list[Sort]:
    """``_sort=a,-b``; ``-last_modified`` is appended as the keyset tie-breaker."""
    sorting = []
    raw = params.get("_sort")
    for item in _comma_list(raw) if raw is not None else []:
        match = _SORT_RE.match(item)
        if not match:
            _invalid(request, "_sort", f"Unknown sort field '{item}'")
        sorting.append(Sort(match.group(2), -1 if match.group(1) == "-" else 1))
    query_limits.check_sorting(request, sorting)
    if not any(sort.field == modified_field for sort in sorting):
        sorting.append(Sort(modified_field, -1))
    return sorting


def parse_list_query(
    request: Request, id_field: str = "id", modified_field: str = "last_modified"
) -> ListQuery:
    params = request_GET(request)
    return ListQuery(
        filters=parse_filters(request, params, id_field, modified_field),
        sorting=parse_sorting(request, params, modified_field),
        limit=parse_limit(request, params),
        token=params.get("_token"),
        fields=parse_fields(request, params),
    )
