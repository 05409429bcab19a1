"""The ``jsonb`` order, as the memory and SQLite backends reproduce it.

PostgreSQL itself is the reference: for any two JSON values, the memory
backend's :func:`order_key` must order them as ``jsonb`` comparison does, and
the SQLite backend's :func:`jsonb_key` (arrays and objects) as ``order_key``.
Strings are lowercase ASCII, ordered alike by every collation PostgreSQL may use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kinto_clone.core.sql.fields import jsonb_key
from kinto_clone.core.storage.filtering import order_key

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0]),
    st.text(alphabet="ab", max_size=2),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(alphabet="abc", max_size=2), children, max_size=3),
    ),
    max_leaves=6,
)
CONTAINERS = st.one_of(
    st.lists(VALUES, min_size=1, max_size=3),
    st.dictionaries(st.text(alphabet="abc", max_size=2), VALUES, max_size=3),
)


def sign(left: Any, right: Any) -> int:
    return (left > right) - (left < right)


@pytest.fixture(scope="module")
def postgresql(postgresql_url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(postgresql_url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.mark.postgresql
@settings(max_examples=300, deadline=None)
@given(left=VALUES, right=VALUES)
def test_order_key_orders_as_postgresql(postgresql: sa.Connection, left: Any, right: Any) -> None:
    query = sa.text(
        "SELECT (CAST(:l AS jsonb) > CAST(:r AS jsonb))::int - "
        "(CAST(:l AS jsonb) < CAST(:r AS jsonb))::int"
    )
    expected = postgresql.execute(query, {"l": json.dumps(left), "r": json.dumps(right)})
    assert sign(order_key(left), order_key(right)) == expected.scalar()


@settings(max_examples=500)
@given(left=CONTAINERS, right=CONTAINERS)
def test_sqlite_keys_of_containers_order_as_order_key(left: Any, right: Any) -> None:
    # Of different types, SQLite ranks them before comparing keys.
    assume(isinstance(left, list) == isinstance(right, list))
    assert sign(jsonb_key(left), jsonb_key(right)) == sign(order_key(left), order_key(right))
