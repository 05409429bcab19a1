"""The cache contract on a real Redis server (``kinto.core.cache.redis``).

The server is ``$KINTO_TEST_REDIS_URL`` (default: the local one).  The caches
under test write under a prefix of their own, so that flushing them leaves the
rest of the database alone.  Unreachable, the tests skip, or fail under
``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
import requests
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from kinto_clone.core.backends import setup_backends
from kinto_clone.core.cache import redis as redis_cache
from kinto_clone.core.cache.testing import CacheContract
from kinto_clone.core.storage import BackendError
from tests.core.single_use_tokens import check_single_use_tokens
from tests.server import StartServer

REDIS_URL = os.environ.get("KINTO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    client = redis_cache.create_client(REDIS_URL, pool_size="5", pool_timeout="5")
    try:
        client.ping()
    except redis.RedisError as error:
        reason = f"Redis unreachable at {REDIS_URL} (set KINTO_TEST_REDIS_URL): {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    yield client
    client.connection_pool.disconnect()


@pytest.fixture(scope="module")
def run_prefix() -> str:
    return f"kinto-clone-test-{uuid.uuid4().hex[:12]}:"


class TestRedisCache(CacheContract):
    @pytest.fixture
    def cache(self, client: redis.Redis, run_prefix: str) -> redis_cache.RedisCache:
        return redis_cache.RedisCache(client, cache_prefix=run_prefix)

    @pytest.fixture
    def prefixed_cache(
        self, client: redis.Redis, run_prefix: str
    ) -> Callable[[str], redis_cache.RedisCache]:
        return lambda prefix: redis_cache.RedisCache(client, cache_prefix=run_prefix + prefix)


def test_values_are_stored_as_kinto_stores_them(client: redis.Redis, run_prefix: str) -> None:
    cache = redis_cache.RedisCache(client, cache_prefix=run_prefix)
    cache.set("key", {"a": [1]}, 60)
    assert client.get(f"{run_prefix}key") == b'{"a": [1]}'
    assert 59_000 < client.pttl(f"{run_prefix}key") <= 60_000
    cache.flush()


def test_flush_keeps_keys_outside_the_prefix(client: redis.Redis, run_prefix: str) -> None:
    outside = f"{run_prefix[:-1]}-outside"
    client.set(outside, "1")
    try:
        redis_cache.RedisCache(client, cache_prefix=run_prefix).flush()
        assert client.get(outside) == b"1"
    finally:
        client.delete(outside)


def test_kinto_settings_choose_the_server_and_pool() -> None:
    config = Configurator(
        settings={
            "cache_backend": "kinto.core.cache.redis",
            "cache_url": "redis://:pw@10.0.0.1:6380/3",
            "cache_pool_size": "7",
            "cache_pool_timeout": "2.5",
            "cache_prefix": "stack1_",
        }
    )
    cache = redis_cache.load_from_config(config)
    pool = cache._client.connection_pool
    assert isinstance(pool, redis.BlockingConnectionPool)
    assert pool.max_connections == 7
    assert pool.timeout == 2.5
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == (
        "10.0.0.1",
        6380,
        3,
        "pw",
    )
    assert cache.prefix == "stack1_"


@pytest.mark.parametrize(
    ("url", "connection_class", "expected"),
    [
        (
            "rediss://user:s3cret@cache.example:6390/2",
            redis.SSLConnection,
            {
                "host": "cache.example",
                "port": 6390,
                "db": 2,
                "username": "user",
                "password": "s3cret",
            },
        ),
        (
            "unix:///run/redis/redis.sock?db=4&password=pw",
            redis.UnixDomainSocketConnection,
            {"path": "/run/redis/redis.sock", "db": 4, "password": "pw"},
        ),
        (
            "redis://localhost:6380?db=5",
            redis.Connection,
            {"host": "localhost", "port": 6380, "db": 5},
        ),
        ("redis://:p%40ss@localhost/1", redis.Connection, {"db": 1, "password": "p@ss"}),
    ],
)
def test_every_url_form_of_redis_is_understood(
    url: str, connection_class: type, expected: dict[str, object]
) -> None:
    pool = redis_cache.create_client(url, "3", "1.5").connection_pool
    assert isinstance(pool, redis.BlockingConnectionPool)
    assert (pool.max_connections, pool.timeout) == (3, 1.5)
    assert pool.connection_class is connection_class
    assert {name: pool.connection_kwargs.get(name) for name in expected} == expected


def test_a_database_chosen_by_query_is_used(client: redis.Redis, run_prefix: str) -> None:
    host, port = (
        client.connection_pool.connection_kwargs["host"],
        client.connection_pool.connection_kwargs["port"],
    )
    other = redis_cache.create_client(f"redis://{host}:{port}?db=3", None, None)
    try:
        redis_cache.RedisCache(other, cache_prefix=run_prefix).set("key", "in db 3", 10)
        assert other.get(f"{run_prefix}key") == b'"in db 3"'
        assert client.get(f"{run_prefix}key") is None
    finally:
        other.delete(f"{run_prefix}key")
        other.connection_pool.disconnect()


def test_an_invalid_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="Invalid Redis URL 'http://cache:6379'"):
        redis_cache.create_client("http://cache:6379", None, None)


def test_kinto_dotted_name_is_accepted(run_prefix: str, client: redis.Redis) -> None:
    config = Configurator(
        settings={
            "storage_backend": "kinto.core.storage.memory",
            "permission_backend": "kinto.core.permission.memory",
            "cache_backend": "kinto.core.cache.redis",
            "cache_url": REDIS_URL,
            "cache_prefix": run_prefix,
        }
    )
    config.registry.heartbeats = {}
    setup_backends(config)
    assert isinstance(config.registry.cache, redis_cache.RedisCache)
    assert config.registry.cache.healthcheck() is True


def test_unreachable_server_is_a_backend_error() -> None:
    # Nothing listens on port 1 of loopback.
    client = redis_cache.create_client("redis://127.0.0.1:1/0", None, "1")
    cache = redis_cache.RedisCache(client)
    assert cache.healthcheck() is False
    with pytest.raises(BackendError):
        cache.get("key")
    with pytest.raises(BackendError):
        cache.set("key", "value", 10)


def test_kinto_ini_snippet_keeps_single_use_tokens(run_prefix: str, client: redis.Redis) -> None:
    """Kinto's documented settings, unchanged: single-use tokens live in Redis."""
    settings = {
        "kinto.cache_backend": "kinto.core.cache.redis",
        "kinto.cache_url": REDIS_URL,
        "kinto.cache_pool_size": "50",
        "kinto.cache_pool_timeout": "30",
        "kinto.cache_prefix": run_prefix,
    }

    def token_stored() -> None:
        assert client.keys(f"{run_prefix}*")  # The single-use token.

    app = check_single_use_tokens(settings, token_stored)
    app.app.registry.cache.flush()
    app.app.registry.cache._client.connection_pool.disconnect()


@pytest.mark.process
def test_kinto_ini_snippet_starts_a_kinto_process(
    start_server: StartServer, run_prefix: str, client: redis.Redis
) -> None:
    server = start_server(
        {
            "kinto.cache_backend": "kinto.core.cache.redis",
            "kinto.cache_url": REDIS_URL,
            "kinto.cache_pool_size": "10",
            "kinto.cache_prefix": run_prefix,
            "kinto.includes": "kinto.plugins.accounts",
            "multiauth.policies": "account",
            "multiauth.policy.account.use": "kinto.plugins.accounts.AccountsPolicy",
            "kinto.account_create_principals": "system.Everyone",
        }
    )
    assert requests.get(f"{server.url}/v1/__heartbeat__", timeout=5).json()["cache"] is True
    signup = {"data": {"password": "s3cret-pass"}}
    requests.put(f"{server.url}/v1/accounts/alice", json=signup, timeout=5).raise_for_status()
    hello = requests.get(f"{server.url}/v1/", auth=("alice", "s3cret-pass"), timeout=5).json()
    assert hello["user"]["id"] == "account:alice"
    # The verified password is remembered in Redis, under the prefix.
    assert client.keys(f"{run_prefix}*")
    client.delete(*client.keys(f"{run_prefix}*"))
