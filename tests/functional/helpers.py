"""Users, principals, ids and requests shared by the functional tests.

The test app uses fixed secrets (:data:`USERID_HMAC_SECRET`,
:data:`DEFAULT_BUCKET_HMAC_SECRET`) so a test can compute the principal of a
Basic Auth user, or the id of their default bucket, exactly as a client would
read them from ``GET /v1/``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import webtest

USERID_HMAC_SECRET = "testsecret"
DEFAULT_BUCKET_HMAC_SECRET = "testsecret2"
PASSWORD = "secret"


def _hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def auth(user: str, password: str = PASSWORD) -> dict[str, str]:
    """Request headers authenticating ``user`` with Basic Auth."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def principal(user: str, password: str = PASSWORD) -> str:
    """The prefixed user id the server gives to ``user`` (``basicauth:<hex>``)."""
    return "basicauth:" + _hmac(USERID_HMAC_SECRET, f"{user}:{password}")


def default_bucket_id(user: str, password: str = PASSWORD) -> str:
    """Id of the personal bucket: a UUID made of the first 32 hex of an HMAC."""
    digest = _hmac(DEFAULT_BUCKET_HMAC_SECRET, principal(user, password))
    return str(uuid.UUID(digest[:32]))


ALICE = auth("alice")
BOB = auth("bob")
MARY = auth("mary")
ANONYMOUS: dict[str, str] = {}


def send(
    app: webtest.TestApp,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any = None,
) -> webtest.TestResponse:
    """``method`` on ``path``, with ``body`` as JSON unless ``None``, whatever the status."""
    if body is None:
        return app.request(path, method=method, headers=headers, expect_errors=True)
    return app.request(
        path,
        method=method,
        headers={**headers, "Content-Type": "application/json"},
        body=json.dumps(body).encode(),
        expect_errors=True,
    )
