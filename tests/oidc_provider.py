"""A real OpenID Connect provider for the tests: ``oidc-provider`` under Node.js.

``tests/oidc`` pins it (``package.json``, ``package-lock.json``); ``npm ci``
installs it when the lock file changed since the last install.
``tests/oidc/provider.js`` runs it on a free loopback port with one client
(``kinto`` / ``kinto-secret``) and any login name as an account.  Without Node.js
or npm the tests using it skip, or fail under ``CI=true``.

:func:`sign_in` plays the browser: it follows the redirections from a login
URL through the provider's sign-in and consent forms, up to the server's token
endpoint.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.clients.conftest import unavailable
from tests.npm import npm_ci
from tests.server import free_port

FOLDER = Path(__file__).with_name("oidc")
SUITE = "OpenID Connect tests"
START_TIMEOUT = 20.0
CLIENT_ID = "kinto"
CLIENT_SECRET = "kinto-secret"
MAX_REDIRECTIONS = 10


@pytest.fixture(scope="session")
def oidc_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The issuer URL of a provider running for the whole test session."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("node or npm not found", SUITE)
    npm_ci(npm, FOLDER, "npm-oidc", SUITE)
    port = free_port()
    log_path = tmp_path_factory.mktemp("oidc") / "provider.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [node, "provider.js", str(port)],
            cwd=FOLDER,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while f"listening {issuer}" not in log_path.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"oidc-provider did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


def policy_settings(issuer: str, name: str = "oidc", **extra: str) -> dict[str, str]:
    """Kinto's documented settings for one provider named ``name``."""
    prefix = f"multiauth.policy.{name}."
    return {
        prefix + "use": "kinto.plugins.openid.OpenIDConnectPolicy",
        prefix + "issuer": issuer,
        prefix + "client_id": CLIENT_ID,
        prefix + "client_secret": CLIENT_SECRET,
        **{prefix + key: value for key, value in extra.items()},
    }


def sign_in(
    browser: requests.Session, authorization_url: str, login: str | None, consent: bool = True
) -> str:
    """Go through the provider as ``login`` from the 307 of the server's login
    endpoint; return the URL the provider sends the browser back to (the
    server's token endpoint).  ``login=None`` or ``consent=False`` cancels."""
    location = authorization_url
    for _ in range(MAX_REDIRECTIONS):
        if "/v1/openid/" in location:
            return location
        response = browser.get(location, allow_redirects=False)
        if response.is_redirect:
            location = urljoin(location, response.headers["Location"])
            continue
        assert response.status_code == 200, response.text
        action = urljoin(location, re.search(r'action="([^"]+)"', response.text).group(1))
        prompt = re.search(r'name="prompt" value="(\w+)"', response.text).group(1)
        if (prompt == "login" and login is None) or (prompt == "consent" and not consent):
            location = action + "/abort"
            continue
        form = {"prompt": prompt}
        if prompt == "login":
            form.update(login=login, password="any")
        response = browser.post(action, data=form, allow_redirects=False)
        location = urljoin(action, response.headers["Location"])
    raise AssertionError(f"too many redirections, last: {location}")
