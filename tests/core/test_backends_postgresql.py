"""The backend contracts, and PostgreSQL specifics, on a real PostgreSQL server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from kinto_clone.core.cache import CacheBase
from kinto_clone.core.cache import postgresql as postgresql_cache
from kinto_clone.core.cache.testing import CacheContract
from kinto_clone.core.permission import PermissionBase
from kinto_clone.core.permission import postgresql as postgresql_permission
from kinto_clone.core.permission.testing import PermissionContract
from kinto_clone.core.sql.cache import SQLCache
from kinto_clone.core.sql.dialects import POSTGRESQL
from kinto_clone.core.sql.testing import SQLBackendsContract
from kinto_clone.core.storage import BackendError, StorageBase
from kinto_clone.core.storage import postgresql as postgresql_storage
from kinto_clone.core.storage.testing import StorageContract

pytestmark = pytest.mark.postgresql


@pytest.fixture(scope="module")
def backends(postgresql_url: str) -> Iterator[SimpleNamespace]:
    settings = {f"{kind}_url": postgresql_url for kind in ("storage", "permission", "cache")}
    config = Configurator(settings={**settings, "skip_schema_check": True})
    found = SimpleNamespace(
        storage=postgresql_storage.load_from_config(config),
        permission=postgresql_permission.load_from_config(config),
        cache=postgresql_cache.load_from_config(config),
    )
    for backend in vars(found).values():
        backend.initialize_schema()
    (found.engine,) = config.registry.sql_engines.values()
    yield found
    found.engine.dispose()


class TestPostgreSQLStorage(StorageContract):
    @pytest.fixture
    def storage(self, backends: SimpleNamespace) -> Iterator[StorageBase]:
        backends.storage.flush()
        yield backends.storage
        backends.storage.flush()


class TestPostgreSQLPermission(PermissionContract):
    @pytest.fixture
    def permission(self, backends: SimpleNamespace) -> PermissionBase:
        return backends.permission


class TestPostgreSQLCache(CacheContract):
    @pytest.fixture
    def cache(self, backends: SimpleNamespace) -> CacheBase:
        return backends.cache

    @pytest.fixture
    def prefixed_cache(self, backends: SimpleNamespace) -> Callable[[str], CacheBase]:
        return lambda prefix: SQLCache(backends.engine, POSTGRESQL, cache_prefix=prefix)


class TestPostgreSQLBackends(SQLBackendsContract):
    dialect = POSTGRESQL

    @pytest.fixture
    def empty_url(self, empty_postgresql_url: str) -> str:
        return empty_postgresql_url


def test_unreachable_server_gives_backend_errors(caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    url = "postgresql://postgres@127.0.0.1:1/test"
    config = Configurator(settings={"storage_url": url, "permission_url": url, "cache_url": url})
    storage = postgresql_storage.load_from_config(config)
    assert "Could not check the storage schema" in caplog.text
    with pytest.raises(BackendError):
        storage.get("r", "/p", "x")
    with pytest.raises(BackendError):
        storage.create("r", "/p", {})
    assert storage.healthcheck() is False
    assert postgresql_permission.load_from_config(config).healthcheck() is False
    assert postgresql_cache.load_from_config(config).healthcheck() is False


def test_connections_killed_by_the_server_are_replaced(backends_url: str) -> None:
    """After a server restart (here: its connections terminated), the next call
    gets a working connection instead of a 503."""
    application = f"kinto_test_{uuid.uuid4().hex[:12]}"
    url = sa.make_url(backends_url).update_query_dict({"application_name": application})
    config = Configurator(settings={"storage_url": url.render_as_string(hide_password=False)})
    storage = postgresql_storage.load_from_config(config)
    created = storage.create("r", "/p", {})
    admin = sa.create_engine(sa.make_url(backends_url), poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        terminate = sa.select(sa.func.pg_terminate_backend(sa.column("pid"))).select_from(
            sa.table("pg_stat_activity", sa.column("pid"), sa.column("application_name"))
        )
        killed = connection.execute(terminate.where(sa.column("application_name") == application))
        assert killed.all() == [(True,)]
    admin.dispose()
    assert storage.get("r", "/p", created["id"]) == created
    assert storage.healthcheck() is True
    config.registry.sql_engines.popitem()[1].dispose()


@pytest.fixture
def backends_url(backends: SimpleNamespace) -> str:
    """The URL of the migrated database of the contract tests."""
    return backends.engine.url.render_as_string(hide_password=False)


@pytest.mark.parametrize(
    "url",
    ["sqlite:///kinto.sqlite", "mysql://localhost/kinto", "postgresql+psycopg://localhost/k"],
)
def test_other_databases_are_refused(url: str) -> None:
    config = Configurator(settings={"storage_url": url})
    with pytest.raises(ConfigurationError, match="must be a postgresql:// URL"):
        postgresql_storage.load_from_config(config)


def test_url_is_required() -> None:
    with pytest.raises(ConfigurationError, match=r"kinto\.permission_url is required"):
        postgresql_permission.load_from_config(Configurator(settings={}))


def test_kinto_style_urls_use_psycopg2_and_pool_settings(postgresql_url: str) -> None:
    url = sa.make_url(postgresql_url).set(drivername="postgres")
    config = Configurator(
        settings={
            "storage_url": url.render_as_string(hide_password=False),
            "storage_pool_size": "3",
            "storage_max_overflow": "2",
            "storage_pool_timeout": "7.5",
            "skip_schema_check": "true",
        }
    )
    postgresql_storage.load_from_config(config)
    (engine,) = config.registry.sql_engines.values()
    assert engine.dialect.driver == "psycopg2"
    assert engine.pool.size() == 3
    assert engine.pool._max_overflow == 2
    assert engine.pool.timeout() == 7.5
    engine.dispose()


def test_same_url_shares_an_engine_other_url_does_not(
    postgresql_url: str, empty_postgresql_url: str
) -> None:
    config = Configurator(
        settings={
            "storage_url": postgresql_url,
            "permission_url": postgresql_url,
            "cache_url": empty_postgresql_url,
            "skip_schema_check": True,
        }
    )
    postgresql_storage.load_from_config(config)
    postgresql_permission.load_from_config(config)
    postgresql_cache.load_from_config(config)
    assert len(config.registry.sql_engines) == 2
    for engine in config.registry.sql_engines.values():
        engine.dispose()
