"""Versioned schemas: creation, migrations and the start-up check.

Each backend kind (``storage``, ``permission``, ``cache``) has its own schema
version, recorded in the ``metadata`` table under ``kinto_clone.<kind>.schema``
(names distinct from Kinto's own, whose tables are not compatible: a database
created by Kinto is refused, not misread).  Version 0 is the empty database and
migration *n* goes from version *n - 1* to *n*: creating a schema is running
every migration, so the upgrade path is exercised by every fresh install.

``kinto migrate`` calls :meth:`Schema.migrate` through ``initialize_schema()``.
At start-up :func:`check_schema` refuses an outdated, unknown or missing schema
with the command to run, except that SQLite (the embedded default) creates a
missing schema itself, and ``kinto.skip_schema_check`` skips the check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from pyramid.exceptions import ConfigurationError
from pyramid.settings import asbool
from sqlalchemy.engine import Connection, Engine

from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.sql.session import participate
from kinto_clone.core.sql.tables import schema_versions
from kinto_clone.core.storage import BackendError

__all__ = [
    "REQUIRE_DATABASE",
    "DatabaseUnreachable",
    "Migration",
    "Schema",
    "SchemaError",
    "check_schema",
]

logger = logging.getLogger(__name__)


class SchemaError(ConfigurationError):
    """The database schema cannot be used by this version of the server."""


class DatabaseUnreachable(ConfigurationError):
    """The database cannot be reached while the command needs it now."""


REQUIRE_DATABASE = "require_database"
"""Internal switch of the ``kinto`` commands: an unreachable database stops them.

Without it (an application built by a WSGI container) the check only warns:
the database may come up later, and requests get 503s until then.
"""


@dataclass(frozen=True)
class Migration:
    """One step of a schema: what it does, and doing it on a connection."""

    description: str
    apply: Callable[[Connection], None]


def create(*elements: sa.Table | sa.Index) -> Callable[[Connection], None]:
    """A migration body creating tables (without their indexes) and indexes."""

    def apply(connection: Connection) -> None:
        for element in elements:
            if isinstance(element, sa.Table):
                connection.execute(sa.schema.CreateTable(element))
            else:
                connection.execute(sa.schema.CreateIndex(element))

    return apply


class Schema:
    """The migrations of one backend kind, and their bookkeeping."""

    def __init__(self, kind: str, tables: Sequence[str], migrations: Sequence[Migration]):
        self.kind = kind
        self.tables = tuple(tables)
        self.migrations = tuple(migrations)

    @property
    def version(self) -> int:
        """The version this code expects."""
        return len(self.migrations)

    @property
    def _key(self) -> str:
        return f"kinto_clone.{self.kind}.schema"

    def installed_version(self, connection: Connection) -> int:
        """The version in the database: 0 when none of its tables exist.

        Raises :class:`SchemaError` when the tables exist without a version
        (created by Kinto itself, or by hand).
        """
        inspector = sa.inspect(connection)
        if inspector.has_table(schema_versions.name):
            query = sa.select(schema_versions.c.value).where(schema_versions.c.name == self._key)
            value = connection.execute(query).scalar()
            if value is not None:
                return int(value)
        present = [name for name in self.tables if inspector.has_table(name)]
        if present:
            raise SchemaError(
                f"The database has {self.kind} tables ({', '.join(present)}) but no "
                f"kinto_clone schema version: it was not created by this server "
                f"(by Kinto itself?). Use an empty database."
            )
        return 0

    def migrate(
        self,
        engine: Engine,
        dialect: Dialect,
        dry_run: bool = False,
        target: int | None = None,
    ) -> list[str]:
        """Create or upgrade the schema to ``target`` (the latest by default).

        Returns the steps done, or that would be done with ``dry_run``.  All
        steps run in one transaction, under a lock, so that two ``kinto migrate``
        cannot interleave and a failed step leaves the previous version intact.
        """
        target = self.version if target is None else target
        with participate(engine, dialect) as participant:
            connection = participant.lock([f"schema:{self.kind}"])
            current = self.installed_version(connection)
            self._refuse_unknown(current, dialect)
            steps = [
                (number, self.migrations[number - 1]) for number in range(current + 1, target + 1)
            ]
            done = [
                f"{m.description} ({dialect.title} {self.kind} schema version {n})"
                for n, m in steps
            ]
            if dry_run or not steps:
                return done
            connection.execute(sa.schema.CreateTable(schema_versions, if_not_exists=True))
            for number, migration in steps:
                logger.info("Migrating %s schema to version %s", self.kind, number)
                migration.apply(connection)
                self._record(connection, dialect, number)
            return done

    def _record(self, connection: Connection, dialect: Dialect, number: int) -> None:
        insert = dialect.insert(schema_versions).values(name=self._key, value=str(number))
        upsert = insert.on_conflict_do_update(
            index_elements=[schema_versions.c.name], set_={"value": insert.excluded.value}
        )
        connection.execute(upsert)

    def _refuse_unknown(self, installed: int, dialect: Dialect) -> None:
        if installed > self.version:
            raise SchemaError(
                f"{dialect.title} {self.kind} schema version {installed} is unknown to this "
                f"server (it knows versions up to {self.version}): a newer server migrated "
                f"this database."
            )

    def check(self, engine: Engine, dialect: Dialect, require_database: bool = False) -> None:
        """Refuse to start on a schema this code cannot use; see the module docstring."""
        try:
            installed = self._settled_version(engine, dialect)
        except BackendError as error:
            if require_database:
                raise self._unreachable(engine, dialect, error) from error
            # The server may come up later: requests get 503s until then.
            logger.warning("Could not check the %s schema: %s", self.kind, error)
            return
        self._refuse_unknown(installed, dialect)
        if installed == self.version:
            return
        if installed == 0 and dialect.creates_schema_on_start:
            for step in self.migrate(engine, dialect):
                logger.info(step)
            return
        state = "missing" if installed == 0 else f"version {installed} is outdated"
        raise SchemaError(
            f"{dialect.title} {self.kind} schema {state} (this server needs version "
            f"{self.version}): run `kinto migrate`."
        )

    def _unreachable(
        self, engine: Engine, dialect: Dialect, error: BackendError
    ) -> DatabaseUnreachable:
        reason = str(error.original or error).strip().splitlines() or ["no reason given"]
        url = engine.url.render_as_string(hide_password=True)
        return DatabaseUnreachable(
            f"kinto.{self.kind}_url: cannot use the {dialect.title} database {url} "
            f"({reason[0].strip()}); start the database or correct the URL."
        )

    def _settled_version(self, engine: Engine, dialect: Dialect) -> int:
        """:meth:`installed_version`, once no migration is half-way through.

        Its reads are several statements, each seeing the latest commit: a
        migration committed between them (``kinto migrate``, or another process
        starting on the same new SQLite file) looks like tables without a
        version.  Unless the first reading is the expected version, read again
        under the schema's lock, which waits for any migration to end.  The
        usual start (schema up to date) takes no lock.
        """
        try:
            with participate(engine, dialect) as participant:
                installed = self.installed_version(participant.connection)
            if installed == self.version:
                return installed
        except SchemaError:
            pass
        with participate(engine, dialect) as participant:
            return self.installed_version(participant.lock([f"schema:{self.kind}"]))


def check_schema(
    schema: Schema, engine: Engine, dialect: Dialect, settings: dict[str, object]
) -> None:
    """:meth:`Schema.check` unless ``kinto.skip_schema_check`` is set."""
    if not asbool(settings.get("skip_schema_check", False)):
        schema.check(engine, dialect, asbool(settings.get(REQUIRE_DATABASE, False)))
