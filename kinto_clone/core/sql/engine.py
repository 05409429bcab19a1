"""Engines built from settings, shared by the backends of one application.

``kinto.storage_url``, ``kinto.permission_url`` and ``kinto.cache_url`` often name
the same database: the backends then get the same engine, hence one connection
pool, and (through :mod:`.session`) one connection and one commit per request.
Engines are kept on the application registry, never in a module global, so that
two applications in one process (tests) do not share pools.

Pool options are read from ``kinto.<kind>_pool_size`` (default 10),
``_max_overflow`` (5), ``_pool_timeout`` (30 seconds) and ``_pool_recycle`` (-1,
never); when several backends share a URL, the first one loaded sets them.
``kinto.postgresql_prepared_statements`` (default true) is read here too
(:mod:`.prepared`).
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.settings import asbool
from sqlalchemy.engine import Engine

from kinto_clone.core.sql.dialects import Dialect, PoolSettings

__all__ = ["engine_from_config", "pool_settings"]

REGISTRY_ATTRIBUTE = "sql_engines"


def pool_settings(settings: dict[str, Any], kind: str) -> PoolSettings:
    defaults = PoolSettings()

    def read(name: str, default: float, convert: type) -> Any:
        raw = settings.get(f"{kind}_{name}")
        if raw in (None, ""):
            return default
        try:
            return convert(raw)
        except (TypeError, ValueError) as error:
            raise ConfigurationError(f"kinto.{kind}_{name} = {raw!r} is not a number") from error

    return PoolSettings(
        size=read("pool_size", defaults.size, int),
        max_overflow=read("max_overflow", defaults.max_overflow, int),
        timeout=read("pool_timeout", defaults.timeout, float),
        recycle=read("pool_recycle", defaults.recycle, int),
        prepared_statements=asbool(settings.get("postgresql_prepared_statements", True)),
    )


def engine_from_config(config: Configurator, kind: str, dialect: Dialect) -> Engine:
    """The engine for ``kinto.<kind>_url``, shared with backends on the same URL."""
    settings = config.get_settings()
    setting = f"kinto.{kind}_url"
    raw = settings.get(f"{kind}_url") or ""
    if not raw:
        raise ConfigurationError(
            f"{setting} is required by the {dialect.title} {kind} backend "
            f"(for instance {dialect.example_url})"
        )
    url = dialect.url(raw, setting)
    engines: dict[str, Engine] | None = getattr(config.registry, REGISTRY_ATTRIBUTE, None)
    if engines is None:
        engines = {}
        setattr(config.registry, REGISTRY_ATTRIBUTE, engines)
    key = url.render_as_string(hide_password=False)
    engine = engines.get(key)
    if engine is None:
        try:
            engine = dialect.create_engine(url, pool_settings(settings, kind))
        except OSError as error:  # SQLite: its folder cannot be created
            raise ConfigurationError(
                f"{setting}: cannot create {error.filename} ({error.strerror}); "
                "choose a folder this server can write to."
            ) from error
        engines[key] = engine
        dialect.check_server(engine)
    return engine
