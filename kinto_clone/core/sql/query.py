"""Storage filters, sorts and pagination rules as conditions on ``objects``.

The object id and timestamp live in their own columns (the primary key and the
timestamp index serve them); any other field is read from the JSON document by
the dialect's field compiler (:mod:`.fields`).  The columns behave as a string
and a number in the jsonb order, so a filter comparing them with a value of
another type is decided without looking at the rows, as the memory backend
decides it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from kinto_clone.core.sql.fields import (
    NUMBER,
    ORDERINGS,
    STRING,
    PostgreSQLFields,
    SQLiteFields,
    rank_of,
    wildcard_pattern,
)
from kinto_clone.core.sql.tables import objects
from kinto_clone.core.storage import COMPARISON, Filter, Sort

__all__ = ["ObjectQueries", "group_condition"]

Condition = ColumnElement[bool]


def group_condition(table: sa.Table, resource_name: str | None, parent_id: str) -> Condition:
    """Rows of ``table`` in the group(s): any resource for ``None``, and a
    ``parent_id`` where ``*`` matches any text (everything else is literal)."""
    conditions = []
    if resource_name is not None:
        conditions.append(table.c.resource_name == resource_name)
    if "*" in parent_id:
        conditions.append(table.c.parent_id.like(wildcard_pattern(parent_id), escape="\\"))
    else:
        conditions.append(table.c.parent_id == parent_id)
    return sa.and_(*conditions)


class ObjectQueries:
    """Builds the ``WHERE`` and ``ORDER BY`` parts of queries on ``objects``."""

    def __init__(self, fields: PostgreSQLFields | SQLiteFields) -> None:
        self._fields = fields

    def filters(self, filters: Iterable[Filter], id_field: str, modified_field: str) -> Condition:
        """All filters AND-ed (true without filters)."""
        return sa.and_(
            sa.true(),
            *[self._filter(one, id_field, modified_field) for one in filters],
        )

    def rules(
        self, rules: Iterable[Iterable[Filter]], id_field: str, modified_field: str
    ) -> Condition:
        """Pagination rules: lists of filters, OR-ed."""
        return sa.or_(
            sa.false(), *[self.filters(rule, id_field, modified_field) for rule in rules]
        )

    def order(
        self, sorting: Iterable[Sort], id_field: str, modified_field: str
    ) -> list[ColumnElement[Any]]:
        clauses: list[ColumnElement[Any]] = []
        for field, direction in sorting:
            if field in (id_field, modified_field):
                column = objects.c.id if field == id_field else objects.c.last_modified
                clauses.append(column.asc() if direction > 0 else column.desc())
            else:
                clauses.extend(self._fields.order(objects.c.data, field.split("."), direction))
        return clauses

    def _filter(self, one: Filter, id_field: str, modified_field: str) -> Condition:
        field, value, op = one
        if field == id_field:
            if isinstance(value, int) and not isinstance(value, bool):
                # Ids are strings, but ``?id=42`` parses as a number.
                value = str(value)
            return self._column(objects.c.id, STRING, op, value)
        if field == modified_field:
            return self._column(objects.c.last_modified, NUMBER, op, value)
        return self._fields.condition(objects.c.data, field.split("."), op, value)

    def _column(self, column: sa.Column[Any], rank: int, op: COMPARISON, value: Any) -> Condition:
        """A filter on a column always holding values of the type ``rank``."""
        match op:
            case COMPARISON.HAS:
                return sa.true() if value else sa.false()
            case COMPARISON.LIKE:
                text = column if rank == STRING else sa.cast(column, sa.Text)
                return self._fields.like(text, value)
            case COMPARISON.CONTAINS | COMPARISON.CONTAINS_ANY:
                return sa.false()
            case COMPARISON.IN | COMPARISON.EXCLUDE:
                same_type = [item for item in value if rank_of(item) == rank]
                found = column.in_(same_type) if same_type else sa.false()
                return found if op is COMPARISON.IN else sa.not_(found)
        compare = ORDERINGS[op]
        other = rank_of(value)
        if other != rank:
            return sa.true() if compare(rank, other) else sa.false()
        return compare(column, value)
