"""Authentication: a stack of policies, each contributing a prefixed user id.

``multiauth.policies = account basicauth`` lists policy names in order; each is
built from ``multiauth.policy.<name>.use`` (a dotted path, Kinto's names
accepted).  The first policy that recognises the request wins and the user id
becomes ``<name>:<id>``.  A policy is any object with
``authenticated_userid(request) -> str | None`` and, optionally,
``forget(request) -> headers``.
"""

from __future__ import annotations

import hmac
from typing import Any, Protocol

from pyramid.authentication import extract_http_basic_credentials
from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core import dotted
from kinto_clone.core.settings import InvalidSetting


class AuthenticationPolicy(Protocol):
    def authenticated_userid(self, request: Request) -> str | None: ...


def hmac_digest(secret: str, message: str) -> str:
    """Hex HMAC-SHA256: how Kinto derives stable ids from secrets."""
    return hmac.digest(secret.encode("utf-8"), message.encode("utf-8"), "sha256").hex()


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic`` header, if well formed.

    Pyramid's parser, as Kinto's: credentials that are not UTF-8 are read as
    Latin-1, so the same header gives the same user id on both servers.
    """
    credentials = extract_http_basic_credentials(request)
    if credentials is None:
        return None
    return credentials.username, credentials.password


class BasicAuthPolicy:
    """Any ``user:password`` pair is a user: its id is an HMAC of the pair.

    Not for production (changing the password changes the identity), but it is
    what Kinto's tutorials and tests use; an empty user name is anonymous.
    """

    # Ids of recent ``Authorization`` headers: a client sends the same one on every
    # request, and parsing it and hashing it cost a tenth of a cheap read.
    MEMO_SIZE = 1024

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str], str | None] = {}

    def authenticated_userid(self, request: Request) -> str | None:
        header = request.environ.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        secret = request.registry.settings["userid_hmac_secret"]
        key = (secret, header)
        try:
            return self._memo[key]
        except KeyError:
            pass
        credentials = basic_credentials(request)
        if credentials is None or not credentials[0]:
            userid = None
        else:
            userid = hmac_digest(secret, f"{credentials[0]}:{credentials[1]}")
        if len(self._memo) >= self.MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = userid
        return userid

    def forget(self, request: Request) -> list[tuple[str, str]]:
        return [("WWW-Authenticate", 'Basic realm="Realm"')]


class AuthenticationStack:
    """The configured policies, tried in order."""

    def __init__(self, policies: list[tuple[str, AuthenticationPolicy]]) -> None:
        self.policies = policies

    def identify(self, request: Request) -> str | None:
        """The prefixed user id of the request, or ``None`` when anonymous."""
        for name, policy in self.policies:
            userid = policy.authenticated_userid(request)
            if userid:
                return f"{name}:{userid}"
        return None

    def forget(self, request: Request) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        for _, policy in self.policies:
            forget = getattr(policy, "forget", None)
            if forget is not None:
                headers.extend(forget(request))
        return headers


def _build_policy(factory: Any, name: str, config: Configurator) -> AuthenticationPolicy:
    """Instantiate a policy class; pass the configurator to those that want it."""
    if isinstance(factory, type):
        try:
            return factory(config=config, name=name)
        except TypeError:
            return factory()
    return factory


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    policies: list[tuple[str, AuthenticationPolicy]] = []
    for name in settings["multiauth.policies"]:
        use = settings.get(f"multiauth.policy.{name}.use")
        if not use:
            raise InvalidSetting(
                f"multiauth.policies names {name!r} but multiauth.policy.{name}.use is not "
                "set; set it or remove the policy."
            )
        factory = dotted.resolve_setting(f"multiauth.policy.{name}.use", use)
        policy = _build_policy(factory, name, config)
        if name == "basicauth" and isinstance(policy, BasicAuthPolicy):
            config.add_api_capability(
                "basicauth",
                description="Very basic authentication sessions. Not for production use.",
                url="http://kinto.readthedocs.io/en/stable/api/1.x/authentication.html",
            )
        policies.append((name, policy))
    config.registry.authentication = AuthenticationStack(policies)
