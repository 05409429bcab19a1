"""Storage filters, sorts and pagination rules as conditions on ``objects``.

The object id and timestamp live in their own columns (the primary key and the
timestamp index serve them); any other field is read from the JSON document by
the dialect's field compiler (:mod:`.fields`).  The columns behave as a string
and a number in the jsonb order, so a filter comparing them with a value of
another type is decided without looking at the rows, as the memory backend
decides it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.util import LRUCache

from kinto_clone.core.sql.fields import (
    NUMBER,
    ORDERINGS,
    STRING,
    PostgreSQLFields,
    SQLiteFields,
    rank_of,
    wildcard_pattern,
)
from kinto_clone.core.sql.session import ShapedStatement
from kinto_clone.core.sql.tables import objects
from kinto_clone.core.storage import COMPARISON, Filter, Sort

__all__ = ["ListStatements", "ObjectQueries", "group_condition"]

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
        if isinstance(value, sa.BindParameter):
            # A value given per execution (:class:`ListStatements`): only ever
            # an ordering on a column, of the column's type.
            column = objects.c.id if field == id_field else objects.c.last_modified
            return ORDERINGS[op](column, value)
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


# Shapes of list queries kept, the most recently used.
MAX_LIST_SHAPES = 500

# Shapes whose key holds more (characters of text, values) are built per call,
# not kept: filter values are part of the key, and the lists of ids shared with
# a user, or a long value in a query string, would fill the memory otherwise.
MAX_SHAPE_KEY_WEIGHT = 2048

# Stands in the key of a shape for a value given per execution.
_GIVEN = "$"


def _frozen(value: Any) -> Any:
    """``value`` as part of a shape's key: equal only for values compiling to
    the same SQL (``1``, ``1.0`` and ``true`` are equal in Python, not here)."""
    if isinstance(value, dict):
        return (dict, tuple((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, list | tuple):
        return (list, tuple(_frozen(item) for item in value))
    if isinstance(value, float):
        return (float, repr(value))
    return (type(value), value)


def _weight(key: Any) -> int:
    """How much a key holds: characters of its texts, and one per other value."""
    if isinstance(key, str):
        return len(key)
    if isinstance(key, tuple):
        return 1 + sum(map(_weight, key))
    return 1


def _given(field: str, value: Any, op: COMPARISON, id_field: str, modified_field: str) -> bool:
    """Whether the value of a filter is given per execution: one ordering an
    id or timestamp column with a value of the column's type (other filters
    on them compile to constants, or to lists)."""
    if op not in ORDERINGS:
        return False
    if field == id_field:
        return type(value) is str
    return field == modified_field and type(value) is int


class ListStatements:
    """The ``SELECT`` of list pages, built once per shape of query.

    Building a list statement with SQLAlchemy, then compiling it, cost more
    CPU than the rest of the request's storage work (0.15 ms for a plain page,
    twice that with a filter on a field).  The values that vary most between
    requests of one shape, the parent, the id and timestamp bounds (``_since``,
    ``_before``, the ETag bound, pagination tokens), are parameters given per
    execution; any other value (filters on fields, lists of ids) is part of the
    shape, as is everything deciding how a value compiles (its JSON type).
    """

    def __init__(self, queries: ObjectQueries, columns: Sequence[ColumnElement[Any]]) -> None:
        self._queries = queries
        self._columns = columns
        self._built: LRUCache[Any, ShapedStatement] = LRUCache(MAX_LIST_SHAPES)

    def select(
        self,
        resource_name: str,
        parent_id: str,
        filters: list[Filter],
        sorting: list[Sort],
        rules: list[list[Filter]],
        include_deleted: bool,
        id_field: str,
        modified_field: str,
        limit: int,
    ) -> tuple[ShapedStatement, dict[str, Any]]:
        """The statement of that query, and the values to execute it with."""
        values: dict[str, Any] = {}
        given_parent = "*" not in parent_id
        if given_parent:
            values["l_pid"] = parent_id
        fields = (id_field, modified_field)
        filters_key = self._filters_key(filters, *fields, values)
        rules_key = tuple(self._filters_key(rule, *fields, values) for rule in rules)
        key = (
            resource_name,
            _GIVEN if given_parent else parent_id,
            filters_key,
            tuple(sorting),
            rules_key,
            include_deleted,
            id_field,
            modified_field,
            limit,
        )
        shaped = self._built.get(key)
        if shaped is None:
            shaped = ShapedStatement(
                self._build(
                    resource_name,
                    parent_id,
                    filters,
                    sorting,
                    rules,
                    include_deleted,
                    id_field,
                    modified_field,
                    limit,
                    values,
                )
            )
            if _weight(key) <= MAX_SHAPE_KEY_WEIGHT:
                self._built[key] = shaped
        return shaped, values

    @staticmethod
    def _filters_key(
        filters: Iterable[Filter], id_field: str, modified_field: str, values: dict[str, Any]
    ) -> tuple[Any, ...]:
        """The shape of ``filters``; the values given per execution are added
        to ``values``, named in the order met."""
        key = []
        for field, value, op in filters:
            if _given(field, value, op, id_field, modified_field):
                values[f"l_v{len(values)}"] = value
                key.append((field, op, _GIVEN))
            else:
                key.append((field, op, _frozen(value)))
        return tuple(key)

    def _build(
        self,
        resource_name: str,
        parent_id: str,
        filters: list[Filter],
        sorting: list[Sort],
        rules: list[list[Filter]],
        include_deleted: bool,
        id_field: str,
        modified_field: str,
        limit: int,
        values: dict[str, Any],
    ) -> sa.Select[Any]:
        """The statement, with parameters where :meth:`_filters_key` took values
        out (in the same order), holding the values of this first request."""
        names = iter(values)

        def given(one: Filter) -> Filter:
            field, value, op = one
            if _given(field, value, op, id_field, modified_field):
                column = objects.c.id if field == id_field else objects.c.last_modified
                return Filter(field, sa.bindparam(next(names), value, type_=column.type), op)
            return one

        conditions = [objects.c.resource_name == resource_name]
        if "*" in parent_id:
            conditions.append(group_condition(objects, None, parent_id))
        else:
            parameter = sa.bindparam(next(names), parent_id, type_=objects.c.parent_id.type)
            conditions.append(objects.c.parent_id == parameter)
        queries = self._queries
        conditions.append(queries.filters(map(given, filters), id_field, modified_field))
        if not include_deleted:
            conditions.append(sa.not_(objects.c.deleted))
        if rules:
            given_rules = [list(map(given, rule)) for rule in rules]
            conditions.append(queries.rules(given_rules, id_field, modified_field))
        return (
            sa.select(*self._columns)
            .where(sa.and_(*conditions))
            .order_by(*queries.order(sorting, id_field, modified_field))
            .limit(limit)
        )
