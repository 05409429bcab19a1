"""``kinto.plugins.openid`` against a real OpenID provider (``oidc-provider``).

The app runs in process (once per backend); the provider is a Node.js process
(:mod:`tests.oidc_provider`) that the server reaches over HTTP for discovery,
code exchange and token checks, and that a ``requests`` session, playing the
browser, signs in to.  The last test runs a real ``kinto`` process from
Kinto's documented ini snippet.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
import webtest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from kinto_clone.core.authentication import hmac_digest
from tests.oidc_provider import (  # noqa: F401 (the fixture)
    CLIENT_ID,
    oidc_issuer,
    policy_settings,
    sign_in,
)
from tests.plugins.conftest import USERID_HMAC_SECRET, MakeApp
from tests.server import StartServer

REDIS_URL = os.environ.get("KINTO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CALLBACK = "http://localhost:3000/#tokens="
LOGIN = "/v1/openid/oidc/login"


def openid_settings(issuer: str, **extra: str) -> dict[str, str]:
    return {
        "kinto.includes": "kinto.plugins.openid",
        "multiauth.policies": "oidc basicauth",
        **policy_settings(issuer, **extra),
    }


@pytest.fixture
def app(make_app: MakeApp, oidc_issuer: str) -> webtest.TestApp:  # noqa: F811
    return make_app(openid_settings(oidc_issuer))


def login_redirect(app: webtest.TestApp, scope: str = "openid email", **params: str) -> str:
    query = {"callback": CALLBACK, "scope": scope, **params}
    return app.get(LOGIN, query, status=307).headers["Location"]


def token_endpoint_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def log_in(app: webtest.TestApp, user: str = "alice", scope: str = "openid email") -> dict:
    """The whole dance; returns the provider's tokens as the client receives them."""
    with requests.Session() as browser:
        back = sign_in(browser, login_redirect(app, scope), user)
    location = app.get(token_endpoint_path(back), status=307).headers["Location"]
    assert location.startswith(CALLBACK)
    return json.loads(base64.b64decode(unquote(location[len(CALLBACK) :])))


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_capability_lists_the_provider(app: webtest.TestApp, oidc_issuer: str) -> None:  # noqa: F811
    assert app.get("/v1/").json["capabilities"]["openid"] == {
        "description": "OpenID connect support.",
        "url": "http://kinto.readthedocs.io/en/stable/api/1.x/authentication.html",
        "providers": [
            {
                "name": "oidc",
                "issuer": oidc_issuer,
                "auth_path": "/openid/oidc/login",
                "client_id": CLIENT_ID,
                "audience": "",
                "header_type": "Bearer",
                "userinfo_endpoint": f"{oidc_issuer}/me",
            }
        ],
    }
    security = app.get("/v1/__api__").json["securityDefinitions"]
    assert security["oidc"] == {"type": "oauth2", "authorizationUrl": f"{oidc_issuer}/auth"}


def test_no_capability_without_a_provider(make_app: MakeApp) -> None:
    app = make_app({"kinto.includes": "kinto.plugins.openid"})
    assert "openid" not in app.get("/v1/").json["capabilities"]
    response = app.get(LOGIN, {"callback": CALLBACK, "scope": "openid"}, status=400)
    assert response.json["message"] == "Unknown provider 'oidc'"


def test_login_redirects_to_the_provider(app: webtest.TestApp, oidc_issuer: str) -> None:  # noqa: F811
    location = login_redirect(app, prompt="none")
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{oidc_issuer}/auth"
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["response_type"] == "code"
    assert query["scope"] == "openid email"
    assert query["redirect_uri"] == "http://localhost/v1/openid/oidc/token"
    assert query["prompt"] == "none"
    assert len(query["state"]) == 64  # 32 random bytes, in hex.
    assert query["code_challenge_method"] == "S256"


def test_full_login_gives_an_openid_user(app: webtest.TestApp) -> None:
    tokens = log_in(app, "alice")
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "openid email"
    assert "id_token" in tokens

    user = app.get("/v1/", headers=bearer(tokens)).json["user"]
    assert user["id"] == "oidc:alice"
    assert user["profile"] == {
        "sub": "alice",
        "email": "alice@example.com",
        "email_verified": True,
    }
    created = app.put_json("/v1/buckets/b", {}, headers=bearer(tokens)).json
    assert created["permissions"] == {"write": ["oidc:alice"]}


def test_verified_tokens_are_remembered(app: webtest.TestApp, oidc_issuer: str) -> None:  # noqa: F811
    tokens = log_in(app, "bob")
    app.get("/v1/", headers=bearer(tokens))
    material = f"{oidc_issuer}:{CLIENT_ID}::{tokens['access_token']}"
    key = f"openid:verify:{hmac_digest(USERID_HMAC_SECRET, material)}"
    cache = app.app.registry.cache
    assert cache.get(key) == {"sub": "bob", "email": "bob@example.com", "email_verified": True}
    assert 86390 < cache.ttl(key) <= 86400
    # Answered from the cache from now on, whatever the provider says, and
    # not written again: the provider is asked once per verification_ttl.
    cache.set(key, {"sub": "remembered"}, 60)
    assert app.get("/v1/", headers=bearer(tokens)).json["user"]["id"] == "oidc:remembered"
    assert 50 < cache.ttl(key) <= 60


def test_a_refused_token_is_anonymous(app: webtest.TestApp) -> None:
    headers = {"Authorization": "Bearer not-a-token"}
    assert "user" not in app.get("/v1/", headers=headers).json
    response = app.get("/v1/buckets", headers=headers, status=401)
    assert 'Bearer realm="Realm"' in response.headers.getall("WWW-Authenticate")


def test_other_policies_still_work_and_have_an_empty_profile(app: webtest.TestApp) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(b"carol:pw").decode()}
    user = app.get("/v1/", headers=basic).json["user"]
    assert user["id"].startswith("basicauth:")
    assert user["profile"] == {}


def test_state_is_good_once(app: webtest.TestApp) -> None:
    with requests.Session() as browser:
        back = sign_in(browser, login_redirect(app), "alice")
    app.get(token_endpoint_path(back), status=307)
    response = app.get(token_endpoint_path(back), status=400)
    assert response.json["details"] == [
        {"location": "body", "name": "state", "description": "Invalid state", "errno": 105}
    ]


@pytest.mark.parametrize("cache", ["the backend's", "redis"])
def test_concurrent_callbacks_with_one_state_let_one_through(
    make_app: MakeApp,
    oidc_issuer: str,  # noqa: F811
    cache: str,
) -> None:
    """Both callbacks start together; the first to take the state trades the
    code (a request to the provider) while the other must already be refused."""
    settings = openid_settings(oidc_issuer)
    if cache == "redis":
        settings |= {
            "kinto.cache_backend": "kinto.core.cache.redis",
            "kinto.cache_url": REDIS_URL,
            "kinto.cache_prefix": f"kinto-clone-openid-{uuid.uuid4().hex[:12]}:",
        }
    app = make_app(settings)
    with requests.Session() as browser:
        back = sign_in(browser, login_redirect(app), "alice")
    start = threading.Barrier(2)
    statuses: list[int] = []

    def callback() -> None:
        client = webtest.TestApp(app.app)
        start.wait(timeout=10)
        statuses.append(client.get(token_endpoint_path(back), expect_errors=True).status_code)

    threads = [threading.Thread(target=callback) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [307, 400]
    app.app.registry.cache.flush()


def test_a_cancelled_login_reaches_the_client(app: webtest.TestApp) -> None:
    with requests.Session() as browser:
        back = sign_in(browser, login_redirect(app), None)
    location = app.get(token_endpoint_path(back), status=307).headers["Location"]
    assert location.startswith(CALLBACK + "error=access_denied&error_description=")


def test_a_wrong_code_gives_the_providers_answer(app: webtest.TestApp) -> None:
    state = parse_qs(urlsplit(login_redirect(app)).query)["state"][0]
    location = app.get(
        "/v1/openid/oidc/token", {"code": "forged", "state": state}, status=307
    ).headers["Location"]
    answer = json.loads(base64.b64decode(unquote(location[len(CALLBACK) :])))
    assert answer["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"callback": "http://evil.example/", "scope": "openid"}, "Untrusted callback URL"),
        (
            {"callback": "http://localhost@evil.example/", "scope": "openid"},
            "Untrusted callback URL",
        ),
        (
            {"callback": CALLBACK, "scope": "openid offline_access"},
            "scope in body: Scopes not allowed: offline_access",
        ),
        ({"callback": "not a url", "scope": "openid"}, "callback in querystring: Must be a URL"),
        ({"scope": "openid"}, "callback in querystring: Required"),
        (
            {"callback": CALLBACK, "scope": "openid", "prompt": "login"},
            "prompt in querystring: String does not match expected pattern",
        ),
    ],
)
def test_login_refuses(app: webtest.TestApp, query: dict, message: str) -> None:
    response = app.get(LOGIN, query, status=400)
    assert response.json["errno"] == 107
    assert response.json["message"] == message


def test_token_needs_code_or_error(app: webtest.TestApp) -> None:
    response = app.get(
        "/v1/openid/oidc/token", {"state": "s", "code": "c", "error": "e"}, status=400
    )
    assert response.json["details"] == [
        {
            "location": "querystring",
            "name": "",
            "description": "Provide either 'state' and 'code', or 'error' and "
            "'error_description', but not both.",
        }
    ]


def test_unknown_provider(app: webtest.TestApp) -> None:
    response = app.get("/v1/openid/nope/token", {"state": "s", "code": "c"}, status=400)
    assert response.json["details"] == [
        {"location": "path", "name": "provider", "description": "Unknown provider 'nope'"}
    ]


def test_email_as_user_id(make_app: MakeApp, oidc_issuer: str) -> None:  # noqa: F811
    app = make_app(openid_settings(oidc_issuer, userid_field="email"))
    response = app.get(LOGIN, {"callback": CALLBACK, "scope": "openid"}, status=400)
    assert response.json["message"] == "Provider oidc requires 'email' scope"
    tokens = log_in(app, "dave")
    assert app.get("/v1/", headers=bearer(tokens)).json["user"]["id"] == "oidc:dave@example.com"


def test_trusted_callback_urls(make_app: MakeApp, oidc_issuer: str) -> None:  # noqa: F811
    settings = openid_settings(oidc_issuer, trusted_callback_urls="https://app.example/*")
    app = make_app(settings)
    app.get(LOGIN, {"callback": "https://app.example/#t=", "scope": "openid"}, status=307)
    app.get(LOGIN, {"callback": CALLBACK, "scope": "openid"}, status=400)


def test_admin_page_is_a_trusted_callback(make_app: MakeApp, oidc_issuer: str) -> None:  # noqa: F811
    settings = openid_settings(oidc_issuer)
    settings["kinto.includes"] += " kinto.plugins.admin"
    app = make_app(settings)
    query = {"callback": "http://localhost/v1/admin/#/auth/oidc/", "scope": "openid"}
    app.get(LOGIN, query, status=307)


def test_an_unreachable_issuer_refuses_to_start(make_app: MakeApp) -> None:
    with pytest.raises(Exception, match="OpenID discovery failed"):
        make_app(openid_settings("http://127.0.0.1:1"))


@pytest.mark.process
def test_kinto_documented_ini_in_a_kinto_process(
    start_server: StartServer,
    oidc_issuer: str,  # noqa: F811
) -> None:
    """Kinto's documented snippet, unchanged, in a real server process."""
    server = start_server(
        {
            "kinto.includes": "kinto.plugins.openid kinto.plugins.default_bucket",
            "multiauth.policies": "oidc",
            "multiauth.policy.oidc.use": "kinto.plugins.openid.OpenIDConnectPolicy",
            "multiauth.policy.oidc.issuer": oidc_issuer,
            "multiauth.policy.oidc.client_id": CLIENT_ID,
            "multiauth.policy.oidc.client_secret": "kinto-secret",
            "multiauth.policy.oidc.userid_field": "sub",
            "multiauth.policy.oidc.verification_ttl_seconds": "3600",
        }
    )
    api = f"{server.url}/v1"
    with requests.Session() as browser:
        login = browser.get(
            f"{api}/openid/oidc/login",
            params={"callback": CALLBACK, "scope": "openid email"},
            allow_redirects=False,
        )
        assert login.status_code == 307
        back = sign_in(browser, login.headers["Location"], "erin")
        assert back.startswith(f"{api}/openid/oidc/token?")
        done = browser.get(back, allow_redirects=False)
    assert done.status_code == 307
    tokens = json.loads(base64.b64decode(unquote(done.headers["Location"][len(CALLBACK) :])))
    hello = requests.get(f"{api}/", headers=bearer(tokens)).json()
    assert hello["user"]["id"] == "oidc:erin"
    record = requests.post(
        f"{api}/buckets/default/collections/tasks/records",
        json={"data": {"title": "signed in"}},
        headers=bearer(tokens),
    )
    assert record.status_code == 201
    assert record.json()["permissions"]["write"] == ["oidc:erin"]


class TestAudience:
    """With ``audience`` set, access tokens must be JWTs of the provider for it."""

    @pytest.fixture
    def signed(self, make_app: MakeApp, oidc_issuer: str):  # noqa: F811
        app = make_app(openid_settings(oidc_issuer, audience="https://kinto.example"))
        (policy,) = [p for name, p in app.app.registry.authentication.policies if name == "oidc"]
        key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
        # The provider's keys, as if read from its jwks_uri a moment ago.
        policy._keys = KeySet([key])
        policy._keys_fetched_at = time.monotonic()

        def sign(alg: str = "RS256", signing_key=key, **claims) -> str:
            payload = {
                "iss": oidc_issuer,
                "aud": "https://kinto.example",
                "exp": int(time.time()) + 60,
                **claims,
            }
            return jwt.encode({"alg": alg, "kid": "test-key"}, payload, signing_key)

        return app, policy, sign

    def test_capability_shows_the_audience(self, signed) -> None:
        app, _, _ = signed
        providers = app.get("/v1/").json["capabilities"]["openid"]["providers"]
        assert providers[0]["audience"] == "https://kinto.example"

    def test_the_login_asks_for_the_audience(self, signed) -> None:
        app, _, _ = signed
        query = parse_qs(urlsplit(login_redirect(app)).query)
        assert query["audience"] == ["https://kinto.example"]

    def test_a_valid_token(self, signed) -> None:
        _, policy, sign = signed
        assert policy._valid_jwt(sign())

    @pytest.mark.parametrize(
        "claims",
        [
            {"aud": "https://other.example"},
            {"iss": "https://other-issuer.example"},
            {"exp": int(time.time()) - 10},
        ],
    )
    def test_wrong_claims(self, signed, claims: dict) -> None:
        _, policy, sign = signed
        assert not policy._valid_jwt(sign(**claims))

    def test_another_key_or_a_shared_secret_is_refused(self, signed) -> None:
        _, policy, sign = signed
        other = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
        assert not policy._valid_jwt(sign(signing_key=other))
        assert not policy._valid_jwt(sign(alg="HS256", signing_key=OctKey.import_key("s" * 32)))

    def test_an_opaque_token_is_anonymous(self, signed) -> None:
        # Valid at the provider, but not a JWT for this audience.
        app, _, _ = signed
        tokens = log_in(app, "frank")
        assert "user" not in app.get("/v1/", headers=bearer(tokens)).json
