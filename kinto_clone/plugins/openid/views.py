"""``/openid/{provider}/login`` and ``/openid/{provider}/token``: the login dance.

1. A client sends the user to ``login?callback=<url>&scope=<scopes>``; the
   server keeps a random ``state`` (with the callback) in the cache and answers
   307 to the provider's authorization endpoint.
2. The provider signs the user in and sends them to ``token?code=...&state=...``
   (or ``?error=...&state=...``); the server consumes the state (once only),
   trades the code for tokens at the provider's token endpoint
   (``client_secret_post``) and answers 307 to ``<callback><tokens>``: the
   provider's JSON answer, base64-encoded then URL-quoted, appended to the
   callback as is (``http://localhost:3000/#tokens=`` is a typical callback).
   A provider error goes back as ``<callback>error=...&error_description=...``.

The requests, answers and errors are Kinto 26.5.0's.  Beyond Kinto, the
authorization request uses PKCE (S256) when the provider supports it: a code
stolen on its way back is useless without the verifier kept in the state.
The protocol messages are built and parsed by authlib.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import urllib.parse
from typing import Any

import colander
import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from pyramid.httpexceptions import HTTPTemporaryRedirect
from pyramid.request import Request

from kinto_clone.core.errors import ERRORS, json_error_handler, raise_invalid, request_GET
from kinto_clone.core.service import Service
from kinto_clone.core.storage import BackendError
from kinto_clone.plugins.openid.callbacks import LOCAL_CLIENTS, is_trusted_callback
from kinto_clone.plugins.openid.provider import (
    HTTP_TIMEOUT_SECONDS,
    ProviderSettings,
    is_openid_policy,
    provider_metadata,
    read_settings,
)

STATE_KEY_PREFIX = "openid:state:"

login = Service(
    name="openid_login", path="/openid/{provider}/login", description="Initiate the OAuth2 login"
)
token = Service(name="openid_token", path="/openid/{provider}/token", description="")


class LoginQuerystring(colander.MappingSchema):
    callback = colander.SchemaNode(
        colander.String(), validator=colander.All(colander.url, colander.Length(min=1, max=2048))
    )
    scope = colander.SchemaNode(colander.String())
    prompt = colander.SchemaNode(
        colander.String(), validator=colander.Regex("none"), missing=colander.drop
    )


def _code_or_error(node: colander.SchemaNode, value: dict[str, Any]) -> None:
    if ("code" in value) == ("error" in value):
        raise colander.Invalid(
            node,
            "Provide either 'state' and 'code', or 'error' and 'error_description', but not both.",
        )


class TokenQuerystring(colander.MappingSchema):
    code = colander.SchemaNode(colander.String(), missing=colander.drop)
    state = colander.SchemaNode(colander.String())
    error = colander.SchemaNode(colander.String(), missing=colander.drop)
    error_description = colander.SchemaNode(colander.String(), missing=colander.drop)
    validator = staticmethod(_code_or_error)


def _validated(request: Request, schema: colander.MappingSchema) -> tuple[dict, ProviderSettings]:
    """The querystring and the provider's settings, or a 400 listing every problem."""
    values: dict[str, Any] = {}
    try:
        values = schema.deserialize(dict(request_GET(request)))
    except colander.Invalid as invalid:
        for name, description in invalid.asdict().items():
            request.errors.add("querystring", name, description)
    provider = request.matchdict["provider"]
    settings = request.registry.settings
    if not is_openid_policy(settings, provider):
        request.errors.add("path", "provider", f"Unknown provider {provider!r}")
    if request.errors:
        raise json_error_handler(request)
    return values, read_settings(settings, provider)


def _trusted_callbacks(request: Request, provider: ProviderSettings) -> list[str]:
    if provider.trusted_callback_urls:
        return list(provider.trusted_callback_urls)
    trusted = list(LOCAL_CLIENTS)
    with contextlib.suppress(KeyError):  # Unless the admin page is not served.
        trusted.append(request.route_url("admin_home") + "*")
    return trusted


@login.get()
def get_login(request: Request) -> HTTPTemporaryRedirect:
    query, provider = _validated(request, LoginQuerystring())
    scopes = query["scope"].split()
    refused = sorted(set(scopes) - provider.allowed_scopes)
    if refused:
        raise_invalid(
            request, name="scope", description=f"Scopes not allowed: {', '.join(refused)}"
        )
    # The tokens go to the callback: it must be one of ours.
    if not is_trusted_callback(query["callback"], _trusted_callbacks(request, provider)):
        raise_invalid(request, name="callback", description="Untrusted callback URL")
    if provider.userid_field == "email" and "email" not in scopes:
        raise_invalid(
            request,
            name="scope",
            description=f"Provider {provider.name} requires 'email' scope",
        )

    metadata = provider_metadata(request.registry, provider.issuer)
    state = secrets.token_hex(provider.state_length)
    pending: dict[str, str] = {"callback": query["callback"]}
    extra: dict[str, str] = {}
    if "S256" in (metadata.get("code_challenge_methods_supported") or []):
        pending["code_verifier"] = secrets.token_urlsafe(48)
        extra["code_challenge"] = create_s256_code_challenge(pending["code_verifier"])
        extra["code_challenge_method"] = "S256"
    if "prompt" in query:
        extra["prompt"] = query["prompt"]
    if provider.audience:
        extra["audience"] = provider.audience
    request.registry.cache.set(STATE_KEY_PREFIX + state, pending, ttl=provider.state_ttl)

    client = OAuth2Session(
        provider.client_id,
        scope=query["scope"],
        redirect_uri=request.route_url("openid_token", provider=provider.name),
    )
    url, _ = client.create_authorization_url(
        metadata["authorization_endpoint"], state=state, **extra
    )
    client.close()
    # Returned, not raised: raising would roll the stored state back.
    return HTTPTemporaryRedirect(location=url)


def _consume_state(request: Request, state: str) -> dict[str, str]:
    """The login's pending data; a state is good for one token request only,
    even among concurrent ones (hence ``pop``, not ``delete``)."""
    pending = request.registry.cache.pop(STATE_KEY_PREFIX + state)
    if not isinstance(pending, dict) or "callback" not in pending:
        raise_invalid(
            request,
            name="state",
            description="Invalid state",
            errno=int(ERRORS.INVALID_AUTH_TOKEN),
        )
    return pending


def _exchange_code(
    request: Request, provider: ProviderSettings, code: str, code_verifier: str | None
) -> str:
    """The token endpoint's answer to the code, as the provider wrote it."""
    metadata = provider_metadata(request.registry, provider.issuer)
    client = OAuth2Session(
        provider.client_id,
        provider.client_secret,
        token_endpoint_auth_method="client_secret_post",
        redirect_uri=request.route_url("openid_token", provider=provider.name),
    )
    answered: list[str] = []

    def keep_answer(response: requests.Response) -> requests.Response:
        answered.append(response.text)
        return response

    client.register_compliance_hook("access_token_response", keep_answer)
    extra = {"code_verifier": code_verifier} if code_verifier else {}
    try:
        client.fetch_token(
            metadata["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            timeout=HTTP_TIMEOUT_SECONDS,
            **extra,
        )
    except requests.RequestException as error:
        raise BackendError(original=error, message=f"OpenID token endpoint: {error}") from error
    except (AuthlibBaseError, ValueError):
        pass  # The provider's error answer goes to the client, like its tokens.
    finally:
        client.close()
    return answered[0] if answered else ""


@token.get()
def get_token(request: Request) -> HTTPTemporaryRedirect:
    query, provider = _validated(request, TokenQuerystring())
    pending = _consume_state(request, query["state"])
    callback = pending["callback"]
    if "error" in query:
        # The provider refused (the user cancelled...): tell the client why.
        details = {"error": query["error"]}
        if query.get("error_description"):
            details["error_description"] = query["error_description"]
        return HTTPTemporaryRedirect(location=callback + urllib.parse.urlencode(details))
    answer = _exchange_code(request, provider, query["code"], pending.get("code_verifier"))
    encoded = base64.b64encode(answer.encode("utf-8")).decode("ascii")
    return HTTPTemporaryRedirect(location=callback + urllib.parse.quote(encoded))
