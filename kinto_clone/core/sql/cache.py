"""Cache backend on PostgreSQL or SQLite (see :mod:`kinto_clone.core.cache`).

Values are stored as JSON text with an absolute expiry time.  Expired rows are
ignored by every read and purged a batch at a time by writes, so the table
stays small without a separate cleaning job.  ``cache_max_size_bytes`` is not
enforced here (nor by Kinto's PostgreSQL cache): expiry bounds the table.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import sqlalchemy as sa
from pyramid.config import Configurator
from sqlalchemy.engine import Engine

from kinto_clone.core.cache import CacheBase
from kinto_clone.core.sql import tables
from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.sql.engine import engine_from_config
from kinto_clone.core.sql.schema import Migration, Schema, check_schema, create
from kinto_clone.core.sql.session import SQLParticipant, participate, ping
from kinto_clone.core.sql.tables import cache, dump_document

__all__ = ["SCHEMA", "SQLCache", "load_from_config"]

PURGE_BATCH = 100

SCHEMA = Schema(
    "cache",
    tables=["cache"],
    migrations=[Migration("create table cache", create(cache, tables.cache_by_expiry))],
)


class SQLCache(CacheBase):
    """See the module docstring."""

    schema = SCHEMA

    def __init__(self, engine: Engine, dialect: Dialect, cache_prefix: str = "") -> None:
        super().__init__(cache_prefix=cache_prefix)
        self._engine = engine
        self._dialect = dialect

    def _session(self) -> participate:
        return participate(self._engine, self._dialect)

    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        return self.schema.migrate(self._engine, self._dialect, dry_run=dry_run)

    def healthcheck(self) -> bool:
        return ping(self._engine)

    def flush(self) -> None:
        with self._session() as participant:
            participant.writer()
            participant.execute(sa.delete(cache))

    def _live(self, key: str, now: float) -> sa.ColumnElement[bool]:
        return sa.and_(cache.c.key == self.prefix + key, cache.c.expires_at > now)

    def get(self, key: str) -> Any:
        query = sa.select(cache.c.value).where(self._live(key, time.time()))
        with self._session() as participant:
            value = participant.execute(query).scalar()
        return None if value is None else json.loads(value)

    def ttl(self, key: str) -> int:
        now = time.time()
        query = sa.select(cache.c.expires_at).where(self._live(key, now))
        with self._session() as participant:
            expires_at = participant.execute(query).scalar()
        return -1 if expires_at is None else math.ceil(expires_at - now)

    def set(self, key: str, value: Any, ttl: float) -> None:
        # Serialized first: bytes raise TypeError before anything is written.
        encoded = dump_document(value)
        now = time.time()
        insert = self._dialect.insert(cache).values(
            key=self.prefix + key, value=encoded, expires_at=now + ttl
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[cache.c.key],
            set_={"value": insert.excluded.value, "expires_at": insert.excluded.expires_at},
        )
        with self._session() as participant:
            participant.writer()
            participant.execute(upsert)
            self._purge(participant, now)

    def _purge(self, participant: SQLParticipant, now: float) -> None:
        """Delete a batch of expired rows, skipping those another transaction
        holds (PostgreSQL) rather than waiting for it."""
        expired = (
            sa.select(cache.c.key)
            .where(cache.c.expires_at <= now)
            .limit(PURGE_BATCH)
            .with_for_update(skip_locked=True)
        )
        participant.execute(sa.delete(cache).where(cache.c.key.in_(expired)))

    def expire(self, key: str, ttl: float) -> None:
        update = (
            sa.update(cache)
            .where(cache.c.key == self.prefix + key)
            .values(expires_at=time.time() + ttl)
        )
        with self._session() as participant:
            participant.writer()
            participant.execute(update)

    def delete(self, key: str) -> Any:
        delete = (
            sa.delete(cache)
            .where(cache.c.key == self.prefix + key)
            .returning(cache.c.value, cache.c.expires_at)
        )
        with self._session() as participant:
            participant.writer()
            row = participant.execute(delete).first()
        if row is None or row.expires_at <= time.time():
            return None
        return json.loads(row.value)


def load_from_config(config: Configurator, dialect: Dialect) -> SQLCache:
    """Build the cache backend of ``config``'s application on ``dialect``."""
    settings = config.get_settings()
    engine = engine_from_config(config, "cache", dialect)
    check_schema(SCHEMA, engine, dialect, settings)
    return SQLCache(engine, dialect, cache_prefix=settings.get("cache_prefix") or "")
