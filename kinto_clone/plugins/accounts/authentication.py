"""The ``account`` authentication policy: Basic credentials checked against accounts.

``multiauth.policy.account.use = kinto.plugins.accounts.AccountsPolicy`` (Kinto's
``...authentication.AccountsAuthenticationPolicy`` is accepted too).  The user id
is the account id, which the policy stack prefixes: ``account:alice``.  Wrong
credentials are not an error: the next policy of ``multiauth.policies`` may still
recognise the request (Kinto's ``account basicauth`` setup).
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core import transaction
from kinto_clone.core.authentication import basic_credentials
from kinto_clone.core.storage import ObjectNotFoundError
from kinto_clone.plugins.accounts import utils


class AccountsPolicy:
    """Authenticates ``Authorization: Basic`` requests whose account exists."""

    openapi_security = {"type": "basic", "description": "Accounts (kinto.plugins.accounts)."}

    def __init__(
        self, config: Configurator | None = None, name: str = utils.ACCOUNT_POLICY_NAME
    ) -> None:
        self.name = name

    def authenticated_userid(self, request: Request) -> str | None:
        credentials = basic_credentials(request)
        if credentials is None:
            return None
        username, password = credentials
        if username and password and self._verify(request, username, password):
            return username
        return None

    def forget(self, request: Request) -> list[tuple[str, str]]:
        return [("WWW-Authenticate", 'Basic realm="Realm"')]

    @staticmethod
    def _verify(request: Request, username: str, password: str) -> bool:
        if "\x00" in username:
            # No account id holds one (ids are checked on creation), and
            # PostgreSQL cannot even look such a text up.
            return False
        registry = request.registry
        settings = registry.settings
        try:
            account = registry.storage.get("account", username, username)
        except ObjectNotFoundError:
            return False
        hashed = account.get("password")
        if not isinstance(hashed, str):
            return False
        key = utils.cache_key(settings, username)
        digest = utils.verified_digest(key, hashed, password)
        ttl = utils.cache_ttl(settings)
        cache = registry.cache
        if cache.get(key) == digest:
            transaction.commit_apart(lambda: cache.expire(key, ttl))
            return True
        if not utils.check_password(password, hashed):
            return False
        transaction.commit_apart(lambda: cache.set(key, digest, ttl))
        return True
