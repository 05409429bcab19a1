"""The tables of the SQL backends, as of the latest schema version.

Identifiers are text in the ``C`` collation on PostgreSQL (code point order, and
``LIKE 'prefix%'`` can use the b-tree indexes); SQLite compares text bytewise
anyway.  Documents are ``jsonb`` on PostgreSQL and JSON text on SQLite.

The migrations of :mod:`.schema` create these tables step by step: a table or
index added later must be added by a new migration, never by editing the
definition an earlier migration creates.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "access_control_entries",
    "cache",
    "dump_document",
    "load_document",
    "load_documents",
    "objects",
    "schema_versions",
    "timestamps",
    "user_principals",
]

metadata = sa.MetaData()

Identifier = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
Document = sa.JSON().with_variant(JSONB(), "postgresql")


def dump_document(value: Any) -> str:
    """JSON text of a stored value.

    Raises ``TypeError`` for values JSON cannot hold (bytes...) and
    ``ValueError`` for NaN and infinities, which neither ``jsonb`` nor SQLite's
    JSON functions accept: better refuse the write than store a document that
    breaks every later query on its collection.
    """
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# Bytes translated so that any digit becomes ``9`` and nothing else does: a
# document whose text holds no run of :data:`_LONG_DIGIT_RUN` digits has no
# integer beyond 64 bits.
_DIGITS_AS_NINES = bytes(0x39 if 0x30 <= c <= 0x39 else 0x20 for c in range(256))
# -2**63 and below, 2**64 and above: 19 digits or more.
_LONG_DIGIT_RUN = b"9" * 19


def load_documents(texts: list[str]) -> list[Any]:
    """Stored documents (their JSON text), decoded as :func:`load_document`
    would, in one pass: decoding each on its own costs a call into orjson per
    document, and the check for long integers as many times."""
    if not texts:
        return []
    raw = f"[{','.join(texts)}]".encode("utf-8", "surrogatepass")
    if _LONG_DIGIT_RUN not in raw.translate(_DIGITS_AS_NINES):
        try:
            documents: list[Any] = orjson.loads(raw)
            return documents
        except orjson.JSONDecodeError:
            pass
    return [load_document(text) for text in texts]


def load_document(text: str | bytes) -> Any:
    """A stored document, decoded by orjson (every list page decodes a
    hundred: the standard library takes four times as long).

    orjson reads integers beyond 64 bits as floats, and refuses what
    ``json.loads`` lets through (lone surrogate escapes, numbers overflowing
    to infinity): such documents are decoded by the standard library, exactly
    as before.  The check for long integers looks at runs of digits anywhere,
    inside strings too: those only cost the slower decoding.
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if _LONG_DIGIT_RUN not in raw.translate(_DIGITS_AS_NINES):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


schema_versions = sa.Table(
    "metadata",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Storage: live objects and tombstones (``deleted``) in one table, so that a
# ``_since`` query is one index range scan; ``timestamps`` holds the current
# timestamp of each group (resource_name, parent_id), the row writers lock.
objects = sa.Table(
    "objects",
    metadata,
    sa.Column("resource_name", Identifier, primary_key=True),
    sa.Column("parent_id", Identifier, primary_key=True),
    sa.Column("id", Identifier, primary_key=True),
    sa.Column("last_modified", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("data", Document, nullable=False),
)
objects_by_timestamp = sa.Index(
    "idx_objects_timestamp",
    objects.c.resource_name,
    objects.c.parent_id,
    objects.c.last_modified,
    unique=True,
)
objects_by_parent = sa.Index("idx_objects_parent_id", objects.c.parent_id)

timestamps = sa.Table(
    "timestamps",
    metadata,
    sa.Column("resource_name", Identifier, primary_key=True),
    sa.Column("parent_id", Identifier, primary_key=True),
    sa.Column("last_modified", sa.BigInteger, nullable=False),
)

# Permission: access control entries and group memberships.
access_control_entries = sa.Table(
    "access_control_entries",
    metadata,
    sa.Column("object_id", Identifier, primary_key=True),
    sa.Column("permission", Identifier, primary_key=True),
    sa.Column("principal", Identifier, primary_key=True),
)
aces_by_principal = sa.Index(
    "idx_access_control_entries_principal",
    access_control_entries.c.principal,
    access_control_entries.c.object_id,
)

user_principals = sa.Table(
    "user_principals",
    metadata,
    sa.Column("user_id", Identifier, primary_key=True),
    sa.Column("principal", Identifier, primary_key=True),
)
members_by_principal = sa.Index("idx_user_principals_principal", user_principals.c.principal)

# Cache: JSON text values with an absolute expiry (seconds since the epoch).
cache = sa.Table(
    "cache",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
cache_by_expiry = sa.Index("idx_cache_expires_at", cache.c.expires_at)
