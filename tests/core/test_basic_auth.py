"""Basic auth ids: remembered per ``Authorization`` header, never mixed up."""

from __future__ import annotations

import base64

import pytest
from pyramid.request import Request

from kinto_clone.core import authentication
from kinto_clone.core.authentication import BasicAuthPolicy


def basic(user: str, password: str, secret: str = "secret") -> Request:
    request = Request.blank("/")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request.environ["HTTP_AUTHORIZATION"] = f"Basic {token}"
    request.registry = type("Registry", (), {"settings": {"userid_hmac_secret": secret}})()
    return request


@pytest.fixture
def digests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The messages hashed, in order."""
    hashed: list[str] = []
    digest = authentication.hmac_digest

    def counting(secret: str, message: str) -> str:
        hashed.append(message)
        return digest(secret, message)

    monkeypatch.setattr(authentication, "hmac_digest", counting)
    return hashed


def test_a_header_seen_again_is_not_hashed_again(digests: list[str]) -> None:
    policy = BasicAuthPolicy()
    first = policy.authenticated_userid(basic("alice", "pw"))
    assert policy.authenticated_userid(basic("alice", "pw")) == first
    assert digests == ["alice:pw"]
    assert first == authentication.hmac_digest("secret", "alice:pw")


def test_other_credentials_or_secrets_get_their_own_ids(digests: list[str]) -> None:
    policy = BasicAuthPolicy()
    alice = policy.authenticated_userid(basic("alice", "pw"))
    assert policy.authenticated_userid(basic("alice", "other")) != alice
    assert policy.authenticated_userid(basic("alice", "pw", secret="rotated")) != alice
    assert len(digests) == 3


def test_anonymous_headers_are_remembered_as_anonymous(digests: list[str]) -> None:
    policy = BasicAuthPolicy()
    for _ in range(2):
        assert policy.authenticated_userid(basic("", "pw")) is None
    request = Request.blank("/")
    request.environ["HTTP_AUTHORIZATION"] = "Bearer token"
    request.registry = basic("a", "b").registry
    assert policy.authenticated_userid(request) is None
    assert policy.authenticated_userid(Request.blank("/")) is None
    assert digests == []


def test_the_memo_stays_bounded(digests: list[str]) -> None:
    policy = BasicAuthPolicy()
    for n in range(BasicAuthPolicy.MEMO_SIZE * 2 + 1):
        policy.authenticated_userid(basic(f"user{n}", "pw"))
    assert len(policy._memo) <= BasicAuthPolicy.MEMO_SIZE
    # Forgotten or not, an id stays the same.
    assert policy.authenticated_userid(basic("user0", "pw")) == authentication.hmac_digest(
        "secret", "user0:pw"
    )
