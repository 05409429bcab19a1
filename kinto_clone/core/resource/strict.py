"""Lists whose objects have a fixed shape reject filters and sorts on unknown fields.

Kinto's schemas without ``preserve_unknown`` (history entries, the permissions
list) answer ``?foo=1`` with a 400 rather than an empty list, which would hide a
typo.  Dotted fields are checked by their first segment (``target.data.id`` is a
field of ``target``).
"""

from __future__ import annotations

from collections.abc import Collection

from pyramid.request import Request

from kinto_clone.core.errors import raise_invalid
from kinto_clone.core.resource.querystring import ListQuery


def _root(field: str) -> str:
    return field.split(".", 1)[0]


def check_known_fields(request: Request, query: ListQuery, known: Collection[str]) -> None:
    """Raise a 400 errno 107 for a filter or a sort on a field outside ``known``."""
    for one in query.filters:
        if _root(one.field) not in known:
            # The parameter as written (``in_foo``), as Kinto names it.
            name = next(
                (
                    key
                    for key in request.GET
                    if key in (one.field, f"_{one.field}") or key.endswith(f"_{one.field}")
                ),
                one.field,
            )
            raise_invalid(
                request,
                location="querystring",
                name=name,
                description=f"Unknown filter field '{name}'",
            )
    for sort in query.sorting:
        if _root(sort.field) not in known:
            raise_invalid(
                request,
                location="querystring",
                name=None,
                description=f"Unknown sort field '{sort.field}'",
            )
