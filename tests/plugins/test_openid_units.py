"""OpenID unit tests: trusted callback URLs, provider settings and discovery."""

from __future__ import annotations

import pytest
from pyramid.exceptions import ConfigurationError

from kinto_clone.plugins.openid import provider
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


class FakeResponse:
    def __init__(self, document: dict) -> None:
        self.document = document

    def raise_for_status(self) -> None:
        pass

    def json(self) -> dict:
        return self.document


METADATA = {
    "issuer": "https://id.example",
    "authorization_endpoint": "https://id.example/auth",
    "token_endpoint": "https://id.example/token",
    "userinfo_endpoint": "https://id.example/me",
    "jwks_uri": "https://id.example/jwks",
    "response_types_supported": ["code"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["RS256"],
}


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("userinfo_endpoint", "http://id.example/me", "userinfo_endpoint"),
        ("token_endpoint", "http://id.example/token", "token_endpoint"),
        ("authorization_endpoint", "http://id.example/auth", "authorization_endpoint"),
        ("userinfo_endpoint", None, "userinfo_endpoint"),
        ("issuer", None, "issuer"),
    ],
)
def test_discovery_refuses_what_the_login_cannot_trust(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str | None, error: str
) -> None:
    document = {**METADATA, field: value}
    document = {key: val for key, val in document.items() if val is not None}
    monkeypatch.setattr(provider.requests, "get", lambda url, timeout: FakeResponse(document))
    with pytest.raises(ConfigurationError, match=error):
        provider.discover("https://id.example")


def test_discovery_reads_the_well_known_document(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []

    def get(url: str, timeout: float) -> FakeResponse:
        asked.append(url)
        return FakeResponse(METADATA)

    monkeypatch.setattr(provider.requests, "get", get)
    assert provider.discover("https://id.example/")["userinfo_endpoint"] == "https://id.example/me"
    assert asked == ["https://id.example/.well-known/openid-configuration"]


def test_settings_need_issuer_and_client_id() -> None:
    settings = {"multiauth.policy.oidc.use": "kinto.plugins.openid.OpenIDConnectPolicy"}
    with pytest.raises(ConfigurationError, match=r"issuer, multiauth\.policy\.oidc\.client_id"):
        provider.read_settings(settings, "oidc")
    settings.update({"multiauth.policy.oidc.issuer": "x", "multiauth.policy.oidc.client_id": "y"})
    settings["multiauth.policy.oidc.verification_ttl_seconds"] = "soon"
    with pytest.raises(ConfigurationError, match="must be an integer"):
        provider.read_settings(settings, "oidc")
