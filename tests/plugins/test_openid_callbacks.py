"""Which callback URLs may receive the tokens of an OpenID login (unit tests)."""

from __future__ import annotations

import pytest

from kinto_clone.plugins.openid.callbacks import LOCAL_CLIENTS, is_trusted_callback

ADMIN = "https://kinto.example/v1/admin/*"


@pytest.mark.parametrize(
    "callback",
    [
        "http://localhost:3000/#tokens=",
        "http://127.0.0.1:8888/callback?x=1",
        "http://LOCALHOST:3000/",
        "https://kinto.example/v1/admin/#/auth/google/",
    ],
)
def test_trusted(callback: str) -> None:
    assert is_trusted_callback(callback, [*LOCAL_CLIENTS, ADMIN])


@pytest.mark.parametrize(
    "callback",
    [
        "http://evil.example/",
        "http://localhost@evil.example/",  # user info: the browser goes to evil.example
        "http://evil.example\\.localhost:3000/",
        "http://localhost:3000/ x",
        "http://localhost:3000/\n",
        "javascript:alert(1)//localhost:3000/",
        "https://kinto.example/v1/admin/../../other/",
        "https://kinto.example/v1/admin/%2e%2e/other/",
        "https://kinto.example/v1/administration/",
        "https://kinto.example:8443/v1/admin/",
        "http://kinto.example/v1/admin/",  # another scheme
        "ftp://localhost:3000/",
        "",
    ],
)
def test_untrusted(callback: str) -> None:
    assert not is_trusted_callback(callback, [*LOCAL_CLIENTS, ADMIN])


def test_default_ports_match_explicit_ones() -> None:
    assert is_trusted_callback("https://app.example:443/x", ["https://app.example/*"])
    assert is_trusted_callback("https://app.example/x", ["https://app.example:443/*"])


def test_wildcards_in_hosts_and_literal_brackets() -> None:
    assert is_trusted_callback("https://a.app.example/", ["https://*.app.example/"])
    assert not is_trusted_callback("https://a.app.example/x", ["https://*.app.example/"])
    # ``?`` and ``[`` are no wildcards: they must be there as written.
    assert is_trusted_callback("https://app.example/?t=", ["https://app.example/?t="])
    assert not is_trusted_callback("https://app.example/at=", ["https://app.example/?t="])


def test_ipv6_hosts() -> None:
    assert is_trusted_callback("http://[::1]:3000/", ["http://[::1]:*/*"])
    assert not is_trusted_callback("http://[::1]:3000/", list(LOCAL_CLIENTS))


def test_malformed_patterns_are_ignored() -> None:
    assert not is_trusted_callback("http://localhost:3000/", ["not a url", "http://@/"])
