"""Signing in to the admin UI with the other policies a server may offer: Basic
Auth alone (no accounts plugin), and OpenID Connect through a real provider, the
token coming back in the admin page's URL fragment."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.admin.conftest import AdminServer
from tests.oidc_provider import oidc_issuer, policy_settings  # noqa: F401 (the fixture)
from tests.server import basicauth_userid

pytestmark = pytest.mark.process

TIMEOUT_MS = 15_000
MEMORY = {
    f"kinto.{kind}_backend": f"kinto.core.{kind}.memory"
    for kind in ("storage", "permission", "cache")
}


def _page(browser: Any) -> tuple[Any, Any]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def test_basic_auth_sign_in_and_out(browser: Any, admin_server: AdminServer) -> None:
    from playwright.sync_api import expect

    server = admin_server(
        {
            **MEMORY,
            "kinto.includes": "kinto.plugins.admin",
            "multiauth.policies": "basicauth",
        }
    )
    context, page = _page(browser)
    page.goto(f"{server.url}/v1/admin/")
    form = page.get_by_role("form", name="Sign in (Basic Auth)")
    expect(form).to_be_visible()
    assert page.get_by_role("form", name="Create an account").count() == 0
    form.get_by_label("Username").fill("carol")
    form.get_by_label("Password").fill("secret")
    form.get_by_role("button", name="Sign in").click()
    expect(page.locator("#whoami")).to_contain_text("carol")
    page.get_by_role("link", name="carol").click()
    expect(page.locator("#user-id")).to_have_text(
        "basicauth:" + basicauth_userid("carol", "secret")
    )
    # The credentials stay in this tab's session only.
    assert "Basic " in page.evaluate("Object.values(sessionStorage).join()")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    context.close()


def test_refused_sign_up_and_wrong_password_show_the_errors(
    browser: Any, admin_server: AdminServer
) -> None:
    from playwright.sync_api import expect

    server = admin_server(
        {
            **MEMORY,
            "multiauth.policies": "account",
            "kinto.account_create_principals": "account:admin",
            "kinto.account_write_principals": "account:admin",
        }
    )
    context, page = _page(browser)
    page.goto(f"{server.url}/v1/admin/")
    sign_up = page.get_by_role("form", name="Create an account")
    sign_up.get_by_label("Username").fill("eve")
    sign_up.get_by_label("Password").fill("eve-secret")
    sign_up.get_by_role("button", name="Sign up").click()
    expect(page.locator("#flash")).to_have_class("error")
    message = requests.put(
        f"{server.url}/v1/accounts/eve", json={"data": {"password": "x"}}, timeout=10
    ).json()["message"]
    expect(page.locator("#flash")).to_contain_text(message)
    form = page.get_by_role("form", name="Sign in with an account")
    form.get_by_label("Username").fill("nobody")
    form.get_by_label("Password").fill("wrong")
    form.get_by_role("button", name="Sign in").click()
    expect(page.locator("#flash")).to_contain_text("not accepted")
    assert page.evaluate("sessionStorage.length") == 0
    context.close()


def test_openid_sign_in(
    browser: Any,
    admin_server: AdminServer,
    oidc_issuer: str,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    server = admin_server(
        {
            **MEMORY,
            "kinto.includes": "kinto.plugins.admin kinto.plugins.openid",
            "multiauth.policies": "oidc",
            **policy_settings(oidc_issuer),
        }
    )
    context, page = _page(browser)
    page.goto(f"{server.url}/v1/admin/")
    page.get_by_role("button", name="Sign in with oidc").click()
    # The provider's development sign-in and consent pages.
    page.locator("input[name=login]").fill("dora")
    page.locator("input[name=password]").fill("any")
    page.locator("button[type=submit]").click()
    page.locator("button[type=submit]").click()
    expect(page.locator("#whoami")).to_contain_text("OpenID (oidc)")
    assert "tokens" not in page.url
    page.get_by_role("link", name="OpenID (oidc)").click()
    expect(page.locator("#user-id")).to_have_text("oidc:dora")
    context.close()


def test_page_helpers_never_make_markup_or_script_links_of_data(
    browser: Any, admin_server: AdminServer
) -> None:
    """The helpers every view builds with: text stays text, and a link to a
    ``javascript:`` or ``data:`` URL (an attachment location, say) gets no href."""
    server = admin_server({**MEMORY, "kinto.includes": "kinto.plugins.admin"})
    context, page = _page(browser)
    page.goto(f"{server.url}/v1/admin/")
    outcome = page.evaluate(
        """async () => {
            const { h, isSafeUrl } = await import("./js/dom.js");
            const hostile = ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x",
                             "vbscript:x", "//evil.example/", "\\tjavascript:alert(1)"];
            const safe = ["https://example.com/a.png", "/v1/files/x", "#/buckets/b", "http://h/"];
            const link = h("a", { href: "javascript:alert(1)" }, "<img src=x onerror=alert(1)>");
            return {
                refused: hostile.filter((url) => !isSafeUrl(url)).length,
                accepted: safe.filter((url) => isSafeUrl(url)).length,
                href: link.getAttribute("href"),
                images: link.querySelectorAll("img").length,
                text: link.textContent,
            };
        }"""
    )
    assert outcome == {
        "refused": 6,
        "accepted": 4,
        "href": None,
        "images": 0,
        "text": "<img src=x onerror=alert(1)>",
    }
    context.close()
