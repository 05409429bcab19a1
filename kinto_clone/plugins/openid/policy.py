"""The OpenID Connect authentication policy: bearer tokens checked by the provider.

``multiauth.policy.<name>.use = kinto.plugins.openid.OpenIDConnectPolicy``.  A
request carrying ``Authorization: <header_type> <access token>`` is sent, once,
to the provider's userinfo endpoint; the user info it answers is remembered in
the cache for ``verification_ttl_seconds`` from then on (under an HMAC of the provider and
the token, never the token itself) and its ``userid_field`` (``sub``) is the
user id, which the policy stack prefixes: ``<name>:<sub>``.

When ``audience`` is set, the access token must also be a JWT signed by the
provider (keys from its ``jwks_uri``) for that audience, as in Kinto 26.5.0.
A token the provider refuses is anonymous (the next policy may still
recognise the request); a provider that cannot be reached is a 503, not a
silent logout.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core import transaction
from kinto_clone.core.authentication import hmac_digest
from kinto_clone.core.storage import BackendError
from kinto_clone.plugins.openid.provider import (
    HTTP_TIMEOUT_SECONDS,
    ProviderSettings,
    provider_metadata,
    read_settings,
)

logger = logging.getLogger(__name__)

PROFILE_ENVIRON_KEY = "kinto_clone.openid.profile"
# Signature algorithms accepted on access tokens (asymmetric only: a shared
# secret would let anyone holding the client secret forge tokens).
KEYS_REFRESH_SECONDS = 60
JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


class OpenIDConnectPolicy:
    """See the module docstring."""

    def __init__(self, config: Configurator, name: str) -> None:
        self.settings: ProviderSettings = read_settings(config.get_settings(), name)
        # Read at start-up, like Kinto: a wrong issuer is a configuration error.
        self.metadata = provider_metadata(config.registry, self.settings.issuer)
        self.openapi_security = {
            "type": "oauth2",
            "authorizationUrl": self.metadata["authorization_endpoint"],
        }
        self._keys: KeySet | None = None
        self._keys_fetched_at = 0.0
        self._keys_lock = threading.Lock()

    def authenticated_userid(self, request: Request) -> str | None:
        scheme, _, access_token = request.headers.get("Authorization", "").partition(" ")
        access_token = access_token.strip()
        if not access_token or scheme.lower() != self.settings.header_type.lower():
            return None
        secret = request.registry.settings["userid_hmac_secret"]
        provider = self.settings
        digest = hmac_digest(
            secret, f"{provider.issuer}:{provider.client_id}:{provider.audience}:{access_token}"
        )
        cache_key = f"openid:verify:{digest}"
        cache = request.registry.cache
        profile = cache.get(cache_key)
        if profile is None:
            profile = self._verify(access_token)
            if profile is None:
                return None
            # Remembered even if the request then fails.  Unlike Kinto, a use
            # does not extend it: the provider sees the token again once per
            # ``verification_ttl``, and a revoked token stops working then.
            transaction.commit_apart(
                lambda: cache.set(cache_key, profile, provider.verification_ttl)
            )
        request.environ[PROFILE_ENVIRON_KEY] = profile
        userid = profile.get(provider.userid_field)
        return str(userid) if userid not in (None, "") else None

    def forget(self, request: Request) -> list[tuple[str, str]]:
        return [("WWW-Authenticate", f'{self.settings.header_type} realm="{self.settings.realm}"')]

    def _verify(self, access_token: str) -> dict[str, Any] | None:
        """The provider's user info for this token, or ``None`` when it refuses it."""
        if self.settings.audience and not self._valid_jwt(access_token):
            return None
        endpoint = self.metadata["userinfo_endpoint"]
        session = OAuth2Session(token={"access_token": access_token, "token_type": "Bearer"})
        try:
            response = session.get(endpoint, timeout=HTTP_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            message = f"OpenID provider unreachable: {error}"
            raise BackendError(original=error, message=message) from error
        finally:
            session.close()
        if not response.ok:
            logger.debug("userinfo of %s refused a token (%s)", endpoint, response.status_code)
            return None
        try:
            profile = response.json()
        except ValueError:
            logger.debug("userinfo of %s answered no JSON", endpoint)
            return None
        return profile if isinstance(profile, dict) else None

    def _key_set(self, refresh: bool) -> KeySet | None:
        """The provider's signing keys; a refresh (after a key rotation) happens at
        most once per :data:`KEYS_REFRESH_SECONDS`, so bad tokens cannot make
        this server hammer the provider.  ``None`` when a refresh is refused."""
        with self._keys_lock:
            now = time.monotonic()
            if self._keys is not None and not refresh:
                return self._keys
            if self._keys is not None and now - self._keys_fetched_at < KEYS_REFRESH_SECONDS:
                return None
            try:
                response = requests.get(self.metadata["jwks_uri"], timeout=HTTP_TIMEOUT_SECONDS)
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
            except (requests.RequestException, ValueError) as error:
                raise BackendError(
                    original=error, message=f"OpenID provider keys unavailable: {error}"
                ) from error
            self._keys_fetched_at = now
            return self._keys

    def _valid_jwt(self, access_token: str) -> bool:
        """True when the token is a JWT of the provider, for the configured audience."""
        provider = self.settings
        expected = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.audience},
            exp={"essential": True},
        )
        for refresh in (False, True):
            keys = self._key_set(refresh)
            if keys is None:
                break
            try:
                expected.validate(jwt.decode(access_token, keys, algorithms=JWT_ALGORITHMS).claims)
                return True
            except (JoseError, ValueError) as error:
                # Perhaps signed with a key the provider added since: refresh once.
                logger.debug("invalid JWT access token from %s (%s)", provider.issuer, error)
        return False


def user_profile(request: Request) -> dict[str, Any]:
    """The user info of the request's OpenID token (``{}`` for other users)."""
    profile = request.environ.get(PROFILE_ENVIRON_KEY)
    parent = getattr(request, "parent", None)
    if profile is None and parent is not None:
        profile = parent.environ.get(PROFILE_ENVIRON_KEY)
    return profile or {}
