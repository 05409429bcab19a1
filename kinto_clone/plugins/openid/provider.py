"""One OpenID Connect provider: its settings and its discovered metadata.

A provider is an authentication policy named in ``multiauth.policies`` whose
``multiauth.policy.<name>.use`` is the OpenID policy.  Its settings are
Kinto 26.5.0's, all under ``multiauth.policy.<name>.``:

==========================  ==============================================
``issuer``                  required; its ``/.well-known/openid-configuration``
                            is read once, at start-up
``client_id``               required
``client_secret``           required to trade codes for tokens
``audience``                when set, access tokens must be JWTs for it
``header_type``             ``Authorization`` scheme (``Bearer``)
``userid_field``            user info field naming the user (``sub``)
``verification_ttl_seconds``  how long a verified token is remembered (86400)
``realm``                   of the ``WWW-Authenticate`` challenge (``Realm``)
``state_ttl_seconds``       how long a login may take (3600)
``state_length``            random bytes of the login state (32)
``allowed_scopes``          scopes clients may ask for (``openid email profile``)
``trusted_callback_urls``   where tokens may be sent (patterns with ``*``);
                            empty: local clients and the admin page
==========================  ==============================================

Discovery goes through authlib's metadata model, which checks the fields the
login flow and the token verification rely on, and that they are ``https``
URLs (``http`` is accepted on loopback only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.common.security import is_secure_transport
from authlib.oidc.discovery import OpenIDProviderMetadata
from pyramid.exceptions import ConfigurationError
from pyramid.registry import Registry
from pyramid.settings import aslist

POLICY_CLASS_NAME = "OpenIDConnectPolicy"
HTTP_TIMEOUT_SECONDS = 10
DEFAULT_ALLOWED_SCOPES = "openid email profile"


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    issuer: str
    client_id: str
    client_secret: str = ""
    audience: str = ""
    header_type: str = "Bearer"
    userid_field: str = "sub"
    verification_ttl: int = 86400
    realm: str = "Realm"
    state_ttl: int = 3600
    state_length: int = 32
    allowed_scopes: frozenset[str] = frozenset(DEFAULT_ALLOWED_SCOPES.split())
    trusted_callback_urls: tuple[str, ...] = field(default=())


def is_openid_policy(settings: dict[str, Any], name: str) -> bool:
    """True when ``multiauth.policy.<name>.use`` names the OpenID policy (ours or Kinto's)."""
    return str(settings.get(f"multiauth.policy.{name}.use", "")).endswith(POLICY_CLASS_NAME)


def openid_policy_names(settings: dict[str, Any]) -> list[str]:
    return [name for name in settings["multiauth.policies"] if is_openid_policy(settings, name)]


def _integer(settings: dict[str, Any], key: str, default: int) -> int:
    raw = settings.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key} must be an integer, not {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{key} must be positive, not {value}")
    return value


def read_settings(settings: dict[str, Any], name: str) -> ProviderSettings:
    """The settings of provider ``name``; missing required ones refuse to start."""
    prefix = f"multiauth.policy.{name}."
    missing = [key for key in ("issuer", "client_id") if not settings.get(prefix + key)]
    if missing:
        raise ConfigurationError(
            f"OpenID provider {name!r}: {', '.join(prefix + key for key in missing)} not set"
        )
    return ProviderSettings(
        name=name,
        issuer=str(settings[prefix + "issuer"]).strip(),
        client_id=str(settings[prefix + "client_id"]).strip(),
        client_secret=str(settings.get(prefix + "client_secret", "")).strip(),
        audience=str(settings.get(prefix + "audience", "")).strip(),
        header_type=str(settings.get(prefix + "header_type", "") or "Bearer").strip(),
        userid_field=str(settings.get(prefix + "userid_field", "") or "sub").strip(),
        verification_ttl=_integer(settings, prefix + "verification_ttl_seconds", 86400),
        realm=str(settings.get(prefix + "realm", "") or "Realm"),
        state_ttl=_integer(settings, prefix + "state_ttl_seconds", 3600),
        state_length=_integer(settings, prefix + "state_length", 32),
        allowed_scopes=frozenset(
            aslist(settings.get(prefix + "allowed_scopes") or DEFAULT_ALLOWED_SCOPES)
        ),
        trusted_callback_urls=tuple(aslist(settings.get(prefix + "trusted_callback_urls", ""))),
    )


def discover(issuer: str) -> OpenIDProviderMetadata:
    """The provider's metadata, checked for what this server uses."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT_SECONDS)
        response.raise_for_status()
        metadata = OpenIDProviderMetadata(response.json())
        metadata.validate_issuer()
        metadata.validate_authorization_endpoint()
        metadata.validate_token_endpoint()
        metadata.validate_jwks_uri()
        userinfo = metadata.get("userinfo_endpoint")
        if not userinfo:
            raise ValueError('"userinfo_endpoint" is required')
        if not is_secure_transport(userinfo):
            raise ValueError('"userinfo_endpoint" MUST use "https" scheme')
    except (requests.RequestException, ValueError) as error:
        raise ConfigurationError(f"OpenID discovery failed at {url}: {error}") from error
    return metadata


def provider_metadata(registry: Registry, issuer: str) -> OpenIDProviderMetadata:
    """The metadata of ``issuer``, discovered once per application."""
    known: dict[str, OpenIDProviderMetadata] = registry.__dict__.setdefault("openid_metadata", {})
    if issuer not in known:
        known[issuer] = discover(issuer)
    return known[issuer]
