"""Filters and sorts on fields of JSON documents, as SQL expressions.

The memory backend (:mod:`kinto_clone.core.storage.filtering`) defines the
semantics; both compilers here reproduce them inside the database:

* values of different JSON types compare in PostgreSQL's ``jsonb`` order,
  ``null < string < number < boolean < array < object``, and an absent field is
  greater than any value (``NULLS LAST``);
* a dotted path follows the longest key present at each level, so ``a.b`` finds
  ``{"a.b": 1}`` as well as ``{"a": {"b": 1}}``.  Every way of cutting the path
  is a ``CASE`` branch, which doubles with each segment: paths of more than
  :data:`MAX_RESOLVED_SEGMENTS` segments only follow nested objects, as Kinto's
  PostgreSQL backend always does;
* ``like`` is case-insensitive, ``*`` is its only wildcard;
* ``contains``/``contains_any`` only match arrays.

PostgreSQL compares ``jsonb`` natively (strings in the database collation).
SQLite has no ordered JSON type: a field is compared by its type rank
(:func:`rank_of`), then by its SQL value for scalars, or by a byte key built by
:func:`jsonb_key` (registered in each SQLite connection) for arrays and objects.
"""

from __future__ import annotations

import json
import math
import operator
import struct
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnElement

from kinto_clone.core.storage import COMPARISON, MISSING

__all__ = [
    "MAX_RESOLVED_SEGMENTS",
    "PostgreSQLFields",
    "SQLiteFields",
    "field_rank",
    "jsonb_key",
    "like_pattern",
    "rank_of",
    "sqlite_jsonb_key",
    "sqlite_lower",
    "wildcard_pattern",
]

MAX_RESOLVED_SEGMENTS = 4

# Ranks of the JSON types in jsonb order; an absent field comes last.  A field
# holding an empty array sorts first, as in PostgreSQL (see :func:`field_rank`).
EMPTY_ARRAY, NULL, STRING, NUMBER, BOOLEAN, ARRAY_RANK, OBJECT, ABSENT = range(-1, 7)

Condition = ColumnElement[bool]

ORDERINGS: dict[COMPARISON, Callable[[Any, Any], Any]] = {
    COMPARISON.EQ: operator.eq,
    COMPARISON.NOT: operator.ne,
    COMPARISON.LT: operator.lt,
    COMPARISON.MAX: operator.le,
    COMPARISON.GT: operator.gt,
    COMPARISON.MIN: operator.ge,
}


def rank_of(value: Any) -> int:
    """Position of the JSON type of ``value`` (or of ``MISSING``) in jsonb order."""
    if value is MISSING:
        return ABSENT
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list | tuple):
        return ARRAY_RANK
    if isinstance(value, dict):
        return OBJECT
    raise TypeError(f"{value!r} is not a JSON value")


def field_rank(value: Any) -> int:
    """:func:`rank_of` a whole field's value: ``jsonb`` puts an empty array
    before ``null`` "for historical reasons", but only at the top level."""
    if isinstance(value, list | tuple) and not value:
        return EMPTY_ARRAY
    return rank_of(value)


def like_pattern(value: Any) -> str:
    """A SQL ``LIKE`` pattern (escape character ``\\``) for a ``like`` filter value.

    ``*`` is the only wildcard; ``%`` and ``_`` are literal, as in the memory
    backend.  Without any ``*`` the value matches anywhere in the text.
    """
    text = str(value)
    if "*" not in text:
        text = f"*{text}*"
    return wildcard_pattern(text)


def wildcard_pattern(text: str) -> str:
    """Turn a ``*`` pattern (parent ids, filter values) into an escaped ``LIKE`` one."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def as_list(value: Any) -> list[Any]:
    """``contains`` filters accept a scalar for a one-element list."""
    return list(value) if isinstance(value, list | tuple) else [value]


def _missing_condition(op: COMPARISON, present: Condition, absent: Condition) -> Condition:
    """Comparison with ``MISSING``, the greatest value (pagination tokens)."""
    if op in (COMPARISON.EQ, COMPARISON.MIN):
        return absent
    if op in (COMPARISON.LT, COMPARISON.NOT):
        return present
    if op is COMPARISON.MAX:
        return sa.true()
    if op is COMPARISON.GT:
        return sa.false()
    raise ValueError(f"{op} cannot compare with MISSING")


class PostgreSQLFields:
    """Fields of a ``jsonb`` column, compared with the ``jsonb`` operators.

    Equality on a top-level field is written as containment (``data @> {...}``)
    so that a GIN index on the column, as Kinto documents it, can serve it.
    """

    def value(self, document: ColumnElement[Any], path: Sequence[str]) -> ColumnElement[Any]:
        """The ``jsonb`` value at ``path``, SQL ``NULL`` when absent."""
        doc = sa.type_coerce(document, JSONB)
        if len(path) > MAX_RESOLVED_SEGMENTS:
            for key in path:
                doc = _arrow(doc, key)
            return doc
        return self._resolve(doc, list(path))

    def _resolve(self, doc: ColumnElement[Any], parts: list[str]) -> ColumnElement[Any]:
        if len(parts) == 1:
            return _arrow(doc, parts[0])
        whole = ".".join(parts)
        branches = [(_has_key(doc, whole), _arrow(doc, whole))]
        for cut in range(len(parts) - 1, 1, -1):
            head = ".".join(parts[:cut])
            branches.append((_has_key(doc, head), self._resolve(_arrow(doc, head), parts[cut:])))
        fallback = self._resolve(_arrow(doc, parts[0]), parts[1:])
        return sa.type_coerce(sa.case(*branches, else_=fallback), JSONB)

    def condition(
        self, document: ColumnElement[Any], path: Sequence[str], op: COMPARISON, value: Any
    ) -> Condition:
        field = self.value(document, path)
        if value is MISSING:
            return _missing_condition(op, field.is_not(None), field.is_(None))
        match op:
            case COMPARISON.HAS:
                return field.is_not(None) if value else field.is_(None)
            case COMPARISON.LIKE:
                text = field.op("#>>", return_type=sa.Text)(sa.literal([], ARRAY(sa.Text)))
                return self.like(text, value)
            case COMPARISON.CONTAINS:
                return sa.and_(_is_array(field), field.op("@>")(_jsonb(as_list(value))))
            case COMPARISON.CONTAINS_ANY:
                items = as_list(value)
                if not items:
                    return sa.false()
                # One pass over the array, each element looked up in the items
                # (PostgreSQL hashes long IN lists): an OR of one containment
                # per item cost items x elements per row.
                # PostgreSQL may evaluate either side of the AND first: only
                # ever expand an array.
                array = sa.case((_is_array(field), field), else_=_jsonb([]))
                element = sa.func.jsonb_array_elements(array).table_valued("value").alias()
                equal = element.c.value.in_([_jsonb(item) for item in items])
                found = sa.exists(sa.select(sa.literal(1)).select_from(element).where(equal))
                return sa.and_(_is_array(field), found)
            case COMPARISON.IN:
                return field.in_([_jsonb(item) for item in value]) if value else sa.false()
            case COMPARISON.EXCLUDE:
                if not value:
                    return sa.true()
                return sa.or_(field.is_(None), field.not_in([_jsonb(item) for item in value]))
            case COMPARISON.EQ if len(path) == 1 and rank_of(value) < ARRAY_RANK:
                # For scalars, containment is equality: {"a": [1]} @> {"a": 1} is false.
                doc = sa.type_coerce(document, JSONB)
                return doc.op("@>")(_jsonb({path[0]: value}))
        compared = ORDERINGS[op](field, _jsonb(value))
        if op in (COMPARISON.NOT, COMPARISON.GT, COMPARISON.MIN):
            # An absent field differs from, and is greater than, any value.
            return sa.or_(field.is_(None), compared)
        return compared

    def order(
        self, document: ColumnElement[Any], path: Sequence[str], direction: int
    ) -> list[ColumnElement[Any]]:
        # PostgreSQL puts NULLs (absent fields) last ascending, first descending.
        field = self.value(document, path)
        return [field.asc() if direction > 0 else field.desc()]

    def like(self, text: ColumnElement[str], value: Any) -> Condition:
        return text.ilike(like_pattern(value), escape="\\")


def _arrow(doc: ColumnElement[Any], key: str) -> ColumnElement[Any]:
    # ``->`` rather than SQLAlchemy's subscript syntax: expression indexes
    # created for Kinto (``data->'field'``) keep matching.
    return doc.op("->", return_type=JSONB)(sa.literal(key, sa.Text))


def _has_key(doc: ColumnElement[Any], key: str) -> Condition:
    return doc.op("?", return_type=sa.Boolean)(sa.literal(key, sa.Text))


def _is_array(field: ColumnElement[Any]) -> Condition:
    return sa.func.jsonb_typeof(field) == "array"


def _jsonb(value: Any) -> ColumnElement[Any]:
    return sa.cast(sa.literal(json.dumps(value), sa.Text), JSONB)


# SQLite


_SQLITE_RANKS = {
    "null": NULL,
    "text": STRING,
    "integer": NUMBER,
    "real": NUMBER,
    "true": BOOLEAN,
    "false": BOOLEAN,
    "array": ARRAY_RANK,
    "object": OBJECT,
}
_SQLITE_TYPES = {
    NULL: ("null",),
    STRING: ("text",),
    NUMBER: ("integer", "real"),
    ARRAY_RANK: ("array",),
    OBJECT: ("object",),
}


# The ``json_type`` of the scalars of each rank but null.
_SCALAR_TYPES = {
    STRING: ("text",),
    NUMBER: ("integer", "real"),
    BOOLEAN: ("true", "false"),
}


class _SQLiteField:
    """One field of a row: its ``json_type``, ``json_extract`` value and rank."""

    def __init__(self, document: ColumnElement[Any], path: ColumnElement[str]) -> None:
        self.type = sa.func.json_type(document, path)
        self.value = sa.func.json_extract(document, path)
        type_rank = sa.case(_SQLITE_RANKS, value=self.type, else_=ABSENT)
        # ``json_extract`` gives arrays as minified JSON text.
        empty = sa.and_(self.type == "array", self.value == "[]")
        self.rank = sa.case((empty, EMPTY_ARRAY), else_=type_rank)

    def comparable(self, rank: int, value: Any) -> tuple[ColumnElement[Any], Any]:
        """The SQL and Python sides to compare, between values of the same rank."""
        if rank >= ARRAY_RANK:
            return sa.func.kinto_jsonb_key(self.value), sa.literal(
                jsonb_key(value), sa.LargeBinary
            )
        if rank == BOOLEAN:
            return self.value, int(value)
        if rank == NUMBER:
            return self.value, as_sqlite_number(value)
        return self.value, value


class SQLiteFields:
    """Fields of a JSON text column, through SQLite's JSON1 functions.

    Keys containing a double quote cannot be written in a SQLite JSON path:
    such fields are always absent here.
    """

    def _path(self, document: ColumnElement[Any], path: Sequence[str]) -> ColumnElement[str]:
        if any('"' in key for key in path):
            return sa.null()
        if len(path) > MAX_RESOLVED_SEGMENTS:
            return sa.literal("$" + "".join(_label(key) for key in path), sa.Text)
        return self._resolve(document, "$", list(path))

    def _resolve(
        self, document: ColumnElement[Any], prefix: str, parts: list[str]
    ) -> ColumnElement[str]:
        whole = prefix + _label(".".join(parts))
        if len(parts) == 1:
            return sa.literal(whole, sa.Text)
        branches = [(_exists(document, whole), sa.literal(whole, sa.Text))]
        for cut in range(len(parts) - 1, 1, -1):
            head = prefix + _label(".".join(parts[:cut]))
            branches.append((_exists(document, head), self._resolve(document, head, parts[cut:])))
        fallback = self._resolve(document, prefix + _label(parts[0]), parts[1:])
        return sa.case(*branches, else_=fallback)

    def field(self, document: ColumnElement[Any], path: Sequence[str]) -> _SQLiteField:
        return _SQLiteField(document, self._path(document, path))

    def condition(
        self, document: ColumnElement[Any], path: Sequence[str], op: COMPARISON, value: Any
    ) -> Condition:
        field = self.field(document, path)
        if value is MISSING:
            return _missing_condition(op, field.type.is_not(None), field.type.is_(None))
        match op:
            case COMPARISON.HAS:
                return field.type.is_not(None) if value else field.type.is_(None)
            case COMPARISON.LIKE:
                return self.like(_sqlite_text(field), value)
            case COMPARISON.CONTAINS:
                items = as_list(value)
                if not items:
                    return field.type == "array"
                return sa.and_(field.type == "array", self._all_elements(document, path, items))
            case COMPARISON.CONTAINS_ANY:
                items = as_list(value)
                if not items:
                    return sa.false()
                return sa.and_(field.type == "array", self._any_element(document, path, items))
            case COMPARISON.IN:
                return _one_of(field.type, field.value, value)
            case COMPARISON.EXCLUDE:
                return sa.not_(_one_of(field.type, field.value, value))
        return _compare(field, op, value)

    def _any_element(
        self, document: ColumnElement[Any], path: Sequence[str], items: list[Any]
    ) -> Condition:
        """True when an element of the array at ``path`` equals one of ``items``."""
        element = (
            sa.func.json_each(document, self._path(document, path))
            .table_valued("value", "type")
            .alias("element")
        )
        matches = _one_of(element.c.type, element.c.value, items)
        return sa.exists(sa.select(sa.literal(1)).select_from(element).where(matches))

    def _all_elements(
        self, document: ColumnElement[Any], path: Sequence[str], items: list[Any]
    ) -> Condition:
        """True when every one of ``items`` equals an element of the array at
        ``path``: the distinct elements equal to one of them are as many as
        the distinct items.  One pass over the array, whatever the number of
        items (one ``EXISTS`` per item cost items x elements per row)."""
        element = (
            sa.func.json_each(document, self._path(document, path))
            .table_valued("value", "type")
            .alias("element")
        )
        matching = (
            sa.select(
                sa.func.count(sa.distinct(_element_identity(element.c.type, element.c.value)))
            )
            .select_from(element)
            .where(_one_of(element.c.type, element.c.value, items))
            .scalar_subquery()
        )
        return matching == len({jsonb_key(item) for item in items})

    def order(
        self, document: ColumnElement[Any], path: Sequence[str], direction: int
    ) -> list[ColumnElement[Any]]:
        field = self.field(document, path)
        container_key = sa.case(
            (field.rank >= ARRAY_RANK, sa.func.kinto_jsonb_key(field.value)), else_=sa.null()
        )
        keys = [field.rank, container_key, field.value]
        return [key.asc() if direction > 0 else key.desc() for key in keys]

    def like(self, text: ColumnElement[str], value: Any) -> Condition:
        # SQLite's LIKE only folds ASCII: lower both sides with Python's rules.
        return sa.func.kinto_lower(text).like(like_pattern(value).lower(), escape="\\")


def _label(key: str) -> str:
    return f'."{key}"'


def _exists(document: ColumnElement[Any], path: str) -> Condition:
    return sa.func.json_type(document, sa.literal(path, sa.Text)).is_not(None)


def _compare(field: _SQLiteField, op: COMPARISON, value: Any) -> Condition:
    """``field <op> value`` in jsonb order: by type rank first, then by value."""
    rank = field_rank(value)
    if value is MISSING:
        return _missing_condition(op, field.type.is_not(None), field.type.is_(None))
    compare = ORDERINGS[op]
    if rank in (NULL, EMPTY_ARRAY):
        # Types holding a single value.
        return compare(field.rank, rank)
    left, right = field.comparable(rank, value)
    if op is COMPARISON.EQ and rank in _SCALAR_TYPES:
        # The value first, then the type: SQLite parses the document at every
        # JSON function call, and most rows already differ by value (the type
        # rank costs two or three calls).  ``IS`` is false, not NULL, for an
        # absent field, like the rank comparison.
        types = [sa.literal(name) for name in _SCALAR_TYPES[rank]]
        return sa.and_(left.is_(right), field.type.in_(types))
    same = compare(left, right)
    if op is COMPARISON.EQ:
        return sa.and_(field.rank == rank, same)
    if op is COMPARISON.NOT:
        return sa.or_(field.rank != rank, same)
    strict = operator.lt if op in (COMPARISON.LT, COMPARISON.MAX) else operator.gt
    return sa.or_(strict(field.rank, rank), sa.and_(field.rank == rank, same))


def _one_of(kind: ColumnElement[str], value: ColumnElement[Any], items: list[Any]) -> Condition:
    """A JSON value (its ``json_type`` and SQL value) equal to one of ``items``.

    One ``IN`` list per JSON type: the expression stays as shallow for a
    thousand items as for one (SQLite refuses expressions deeper than 1000
    levels).  Never ``NULL``, even for an absent value, so that its negation
    (``exclude_``) keeps the objects lacking the field.
    """
    by_rank: dict[int, list[Any]] = {}
    for item in items:
        by_rank.setdefault(rank_of(item), []).append(item)
    conditions = []
    for rank, group in by_rank.items():
        if rank == BOOLEAN:
            typed = kind.in_(sorted({"true" if item else "false" for item in group}))
        else:
            typed = kind.in_(_SQLITE_TYPES[rank])
        if rank in (NULL, BOOLEAN):
            conditions.append(typed)
        elif rank >= ARRAY_RANK:
            keys = [jsonb_key(item) for item in group]
            # SQLite may evaluate either side of an AND first: the key function
            # only ever sees containers.
            key = sa.case((typed, sa.func.kinto_jsonb_key(value)), else_=sa.null())
            conditions.append(key.in_(keys))
        else:
            scalars = [as_sqlite_number(item) for item in group]
            conditions.append(sa.and_(typed, value.in_(scalars)))
    # ``json_type`` is NULL for an absent value: so would the ``OR`` be.
    return sa.func.coalesce(sa.or_(sa.false(), *conditions), False)


def _element_identity(kind: ColumnElement[str], value: ColumnElement[Any]) -> ColumnElement[Any]:
    """A value equal for two ``json_each`` elements exactly when they are equal
    JSON values (``1`` and ``1.0`` alike), as :func:`jsonb_key` is for items."""
    scalar = kind.in_(("integer", "real", "text"))
    return sa.case(
        (scalar, sa.func.kinto_jsonb_key(sa.func.json_quote(value))),
        (kind.in_(("array", "object")), sa.func.kinto_jsonb_key(value)),
        else_=kind,
    )


def as_sqlite_number(value: int | float) -> int | float:
    """``value`` as SQLite's JSON functions read it: an integer beyond 64 bits is
    a real (an infinite one beyond the doubles), as SQLite cannot bind it."""
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


def _sqlite_text(field: _SQLiteField) -> ColumnElement[str]:
    """The text a ``like`` filter matches, as PostgreSQL's ``->>`` renders it."""
    return sa.case(
        (field.type == "null", sa.null()),
        (field.type == "true", "true"),
        (field.type == "false", "false"),
        else_=sa.cast(field.value, sa.Text),
    )


# Functions registered in every SQLite connection.


def sqlite_lower(text: Any) -> Any:
    """``kinto_lower()``: Unicode lower case, where SQLite's ``lower()`` only does ASCII."""
    return text.lower() if isinstance(text, str) else text


def jsonb_key(value: Any) -> bytes:
    """Bytes ordered like ``value`` in jsonb order (``kinto_jsonb_key()`` in SQLite).

    Arrays compare by length, then element by element; objects by number of
    keys, then key, value, key, value... in ``jsonb``'s storage order (shorter
    keys first), keys compared as strings.  Numbers are encoded as IEEE
    doubles, so integers beyond 2**53 lose precision.
    """
    rank = rank_of(value)
    head = bytes([rank])
    if rank == NULL:
        return head
    if rank == STRING:
        return head + _string_key(value)
    if rank == BOOLEAN:
        return head + (b"\x01" if value else b"\x00")
    if rank == NUMBER:
        (bits,) = struct.unpack(">Q", struct.pack(">d", float(as_sqlite_number(value))))
        bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | 1 << 63
        return head + struct.pack(">Q", bits)
    if rank == ARRAY_RANK:
        return head + struct.pack(">I", len(value)) + b"".join(jsonb_key(v) for v in value)
    pairs = sorted(value.items(), key=lambda pair: (len(pair[0].encode()), pair[0]))
    encoded = b"".join(_string_key(key) + jsonb_key(item) for key, item in pairs)
    return head + struct.pack(">I", len(value)) + encoded


def _string_key(text: str) -> bytes:
    """Bytes ordered as the strings: UTF-8 (code point order), terminated so
    that no key is a prefix of another."""
    return text.encode().replace(b"\x00", b"\x00\xff") + b"\x00\x00"


def sqlite_jsonb_key(text: Any) -> bytes | None:
    """``kinto_jsonb_key(json_text)``: :func:`jsonb_key` of an extracted container."""
    if text is None:
        return None
    return jsonb_key(json.loads(text))
