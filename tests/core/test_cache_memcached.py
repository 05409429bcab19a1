"""The cache contract on a real Memcached server (``kinto.core.cache.memcached``).

The tests start their own ``memcached`` (Debian's package) on a free loopback
port, and stop it at the end.  Without the binary they skip, or fail under
``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from pyramid.config import Configurator

from kinto_clone.core.backends import setup_backends
from kinto_clone.core.cache import memcached
from kinto_clone.core.cache.testing import CacheContract
from kinto_clone.core.storage import BackendError
from tests.core.single_use_tokens import check_single_use_tokens
from tests.server import StartServer

START_TIMEOUT_SECONDS = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"memcached did not listen on port {port}")


@pytest.fixture(scope="module")
def hosts() -> Iterator[str]:
    """``host:port`` of a memcached started for these tests (64 MB, loopback only)."""
    binary = shutil.which("memcached")
    if binary is None:
        reason = "memcached not found (apt-get install memcached)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64", *user],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def client(hosts: str):
    client = memcached.create_client(hosts)
    yield client
    client.close()


class TestMemcachedCache(CacheContract):
    @pytest.fixture
    def cache(self, client) -> memcached.MemcachedCache:
        return memcached.MemcachedCache(client)

    @pytest.fixture
    def prefixed_cache(self, client) -> Callable[[str], memcached.MemcachedCache]:
        return lambda prefix: memcached.MemcachedCache(client, cache_prefix=prefix)


def test_keys_memcached_refuses_are_hashed(client) -> None:
    cache = memcached.MemcachedCache(client)
    for key in ("with space", "é", "k" * 300, "line\nbreak"):
        cache.set(key, key, 10)
        assert cache.get(key) == key
    assert memcached.server_key("plain:key") == "plain:key"
    cache.flush()


def test_a_read_decodes_the_value_once(client, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = memcached.MemcachedCache(client)
    # A value holding the document's own member name, in the middle and last.
    value = {"a": 1, "expires_at": 2, "list": ['", "expires_at": 3}']}
    cache.set("key", value, 10)
    decodes = []
    real_loads = json.loads

    def counting_loads(text: str | bytes, **options: object) -> object:
        decodes.append(text)
        return real_loads(text, **options)

    monkeypatch.setattr(json, "loads", counting_loads)
    assert cache.get("key") == value
    assert len(decodes) == 1
    assert 9 < cache.ttl("key") <= 10
    cache.flush()


def test_a_document_in_another_layout_is_a_miss(client) -> None:
    cache = memcached.MemcachedCache(client)
    # As Kinto's own Memcached backend stores values.
    client.set("kinto", b'{"value": "v", "ttl": 1796664398}', expire=60)
    client.set("text", b"not json", expire=60)
    assert cache.get("kinto") is None
    assert cache.get("text") is None
    assert cache.pop("text") is None
    cache.flush()


def test_server_expiry_is_never_forever() -> None:
    now = 1000.0
    assert memcached._server_expiry(now + 0.05, now) == 2
    assert memcached._server_expiry(now + 10, now) == 11
    # Beyond 30 days Memcached reads an absolute time.
    far = now + 40 * 24 * 3600
    assert memcached._server_expiry(far, now) == int(far) + 1


def test_kinto_settings_choose_the_servers(hosts: str) -> None:
    config = Configurator(
        settings={
            "storage_backend": "kinto.core.storage.memory",
            "permission_backend": "kinto.core.permission.memory",
            "cache_backend": "kinto.core.cache.memcached",
            "cache_hosts": f"{hosts} 127.0.0.1:1",
            "cache_prefix": "stack1_",
        }
    )
    config.registry.heartbeats = {}
    setup_backends(config)
    cache = config.registry.cache
    assert isinstance(cache, memcached.MemcachedCache)
    assert cache.prefix == "stack1_"
    assert len(cache._client.clients) == 2
    # One of the two servers is down.
    assert cache.healthcheck() is False
    cache._client.close()


def test_unreachable_server_is_a_backend_error() -> None:
    cache = memcached.MemcachedCache(memcached.create_client("127.0.0.1:1"))
    assert cache.healthcheck() is False
    with pytest.raises(BackendError):
        cache.get("key")
    cache._client.close()


def test_kinto_ini_snippet_keeps_single_use_tokens(hosts: str) -> None:
    """Kinto's documented settings, unchanged: single-use tokens live in Memcached."""
    app = check_single_use_tokens(
        {"kinto.cache_backend": "kinto.core.cache.memcached", "kinto.cache_hosts": hosts}
    )
    app.app.registry.cache._client.close()


def test_servers_from_cache_url_as_kinto_init_writes_them() -> None:
    config = Configurator(settings={"cache_url": "127.0.0.1:11211 127.0.0.2:11211"})
    cache = memcached.load_from_config(config)
    assert len(cache._client.clients) == 2
    cache._client.close()


@pytest.mark.process
def test_kinto_ini_snippet_starts_a_kinto_process(start_server: StartServer, hosts: str) -> None:
    server = start_server(
        {"kinto.cache_backend": "kinto.core.cache.memcached", "kinto.cache_hosts": hosts}
    )
    assert requests.get(f"{server.url}/v1/__heartbeat__", timeout=5).json()["cache"] is True
