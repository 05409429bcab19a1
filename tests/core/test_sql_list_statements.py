"""List statements are built once per shape of query (:class:`ListStatements`)."""

from __future__ import annotations

from typing import Any

import pytest

from kinto_clone.core.sql.dialects import POSTGRESQL, SQLITE, Dialect
from kinto_clone.core.sql.query import ListStatements, ObjectQueries
from kinto_clone.core.sql.session import ShapedStatement
from kinto_clone.core.sql.tables import objects
from kinto_clone.core.storage import COMPARISON, Filter, Sort

SORTING = [Sort("last_modified", -1)]


@pytest.fixture(params=[POSTGRESQL, SQLITE], ids=["postgresql", "sqlite"])
def lists(request: pytest.FixtureRequest) -> ListStatements:
    dialect: Dialect = request.param
    return ListStatements(ObjectQueries(dialect.fields), [objects.c.id, objects.c.data])


def select(
    lists: ListStatements,
    filters: list[Filter],
    rules: list[list[Filter]] | None = None,
    parent_id: str = "/buckets/b/collections/c",
) -> tuple[ShapedStatement, dict[str, Any]]:
    return lists.select(
        "record", parent_id, filters, SORTING, rules or [], False, "id", "last_modified", 101
    )


def test_bounds_parents_and_tokens_are_values_of_one_shape(lists: ListStatements) -> None:
    def page(since: int, parent_id: str, last: int, last_id: str) -> Any:
        filters = [
            Filter("status", "todo", COMPARISON.EQ),
            Filter("last_modified", since, COMPARISON.GT),
        ]
        rules = [
            [Filter("last_modified", last, COMPARISON.LT)],
            [Filter("last_modified", last, COMPARISON.EQ), Filter("id", last_id, COMPARISON.GT)],
        ]
        return select(lists, filters, rules, parent_id)

    first, first_values = page(10, "/buckets/b/collections/c", 20, "a")
    second, second_values = page(11, "/buckets/b/collections/d", 21, "b")
    assert second is first
    assert list(first_values.values()) == ["/buckets/b/collections/c", 10, 20, 20, "a"]
    assert list(second_values.values()) == ["/buckets/b/collections/d", 11, 21, 21, "b"]


@pytest.mark.parametrize(
    "other",
    [
        Filter("status", "done", COMPARISON.EQ),
        Filter("status", 1, COMPARISON.EQ),
        Filter("status", True, COMPARISON.EQ),
        Filter("status", 1.0, COMPARISON.EQ),
        Filter("status", [1], COMPARISON.EQ),
        Filter("status", {"1": 1}, COMPARISON.EQ),
        Filter("status", "1", COMPARISON.NOT),
        Filter("other", "1", COMPARISON.EQ),
        # Compiled to constants, not parameters: values of another type.
        Filter("last_modified", "1", COMPARISON.EQ),
        Filter("id", 1, COMPARISON.EQ),
    ],
)
def test_other_field_values_types_and_operators_are_other_shapes(
    lists: ListStatements, other: Filter
) -> None:
    shaped, _ = select(lists, [Filter("status", "1", COMPARISON.EQ)])
    assert select(lists, [other])[0] is not shaped


def test_parent_patterns_are_part_of_the_shape(lists: ListStatements) -> None:
    star, values = select(lists, [], parent_id="/buckets/b/*")
    assert values == {}
    assert select(lists, [], parent_id="/buckets/c/*")[0] is not star
    assert select(lists, [], parent_id="/buckets/b/*")[0] is star


def test_shapes_holding_long_values_are_not_kept(lists: ListStatements) -> None:
    # Filter values are part of the key: lists of ids shared with a user, or a
    # long value in a query string, would fill the memory if kept.
    many = Filter("id", [f"record-{n}" for n in range(500)], COMPARISON.IN)
    assert select(lists, [many])[0] is not select(lists, [many])[0]
    long = Filter("title", "x" * 5000, COMPARISON.EQ)
    assert select(lists, [long])[0] is not select(lists, [long])[0]
    few = Filter("id", ["a", "b"], COMPARISON.IN)
    assert select(lists, [few])[0] is select(lists, [few])[0]
