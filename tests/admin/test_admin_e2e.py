"""The admin UI at ``/v1/admin/`` in headless Chromium, against real ``kinto start``
processes on each backend: sign-up and sign-in, buckets, a collection with a JSON
schema, records through the generated form, sharing with a group, a second user,
history, attachments, hostile records, pagination and signing out.

Set ``KINTO_ADMIN_SCREENSHOTS=<folder>`` to save screenshots of the main screens
(the README's, in ``docs/screenshots/``) during the memory run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.admin.conftest import AdminServer
from tests.server import KintoServer, sql_settings

pytestmark = pytest.mark.process

SCREENSHOTS_VARIABLE = "KINTO_ADMIN_SCREENSHOTS"
TIMEOUT_MS = 15_000

PRODUCT_SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "title": "Title"},
        "price": {"type": "number", "minimum": 0, "title": "Price"},
        "category": {"type": "string", "enum": ["chair", "table", "lamp"]},
        "available": {"type": "boolean", "title": "Available"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["title"],
}
HOSTILE = {
    "title": '<img src=x onerror="window.__pwned = 1">',
    "homepage": "javascript:window.__pwned = 2",
    "note": "<script>window.__pwned = 3</script>",
    "price": 1,
}
ATTACHMENT = b"name,price\nchair,30\n"


def _screenshot(page: Any, name: str) -> None:
    folder = os.environ.get(SCREENSHOTS_VARIABLE)
    if folder and getattr(page, "take_screenshots", False):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def _open(page: Any, server: KintoServer, route: str = "") -> None:
    page.goto(f"{server.url}/v1/admin/#/{route}")


def _sign_up_and_in(page: Any, username: str, password: str) -> None:
    from playwright.sync_api import expect

    form = page.get_by_role("form", name="Create an account")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(password)
    form.get_by_label("Password").press("Enter")  # The keyboard is enough.
    expect(page.locator("#whoami")).to_contain_text(f"account {username}")


def _create_bulk_records(server: KintoServer, auth: tuple[str, str], count: int) -> None:
    """``count`` records numbered from 1, through the batch endpoint (25 per batch)."""
    path = "/buckets/shop/collections/bulk/records"
    for start in range(1, count + 1, 25):
        body = {
            "defaults": {"method": "POST", "path": path},
            "requests": [
                {"body": {"data": {"n": n}}} for n in range(start, min(start + 25, count + 1))
            ],
        }
        answer = requests.post(f"{server.url}/v1/batch", json=body, auth=auth, timeout=30)
        assert answer.status_code == 200
        assert {r["status"] for r in answer.json()["responses"]} == {201}


def admin_scenario(browser: Any, server: KintoServer, screenshots: bool) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    alice = ("alice", "alice-secret-1")
    alice_context = browser.new_context(viewport={"width": 1024, "height": 720})
    alice_context.set_default_timeout(TIMEOUT_MS)
    page = alice_context.new_page()
    page.take_screenshots = screenshots
    problems: list[str] = []  # Console errors (refused requests are logged there too).
    crashes: list[str] = []  # Uncaught exceptions of the page's scripts.
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: crashes.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())

    # Sign up, then in: the sign-in screen follows the server's capabilities.
    _open(page, server)
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    _screenshot(page, "sign-in")
    _sign_up_and_in(page, *alice)

    # A bucket, then a collection with a JSON schema and its display settings.
    new_bucket = page.get_by_role("form", name="New bucket")
    new_bucket.get_by_label("Id (optional)").fill("shop")
    new_bucket.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Bucket shop")).to_be_visible()
    for collection in ("products", "bulk"):
        new_collection = page.get_by_role("form", name="New collection")
        new_collection.get_by_label("Id (optional)").fill(collection)
        new_collection.get_by_role("button", name="Create").click()
        expect(page.get_by_role("heading", name=f"Collection {collection}")).to_be_visible()
        if collection == "products":
            page.get_by_label("JSON schema").fill(json.dumps(PRODUCT_SCHEMA, indent=2))
            page.get_by_label("Displayed fields").fill("title, price, category")
            page.get_by_label("cache_expires (seconds)").fill("60")
            _screenshot(page, "collection-settings")
        else:
            page.get_by_label("Displayed fields").fill("n")
        page.get_by_role("button", name="Save settings").click()
        expect(page.locator("#flash")).to_contain_text("Collection settings saved.")
        page.get_by_role("link", name="shop").click()

    # Records through the generated form; a schema violation shows the API's message.
    _open(page, server, "buckets/shop/collections/products?tab=new")
    page.get_by_label("Title *").fill("Chair")
    page.get_by_label("Price").fill("-5")
    page.get_by_label("category").select_option(label="chair")
    page.get_by_label("Available").check()
    page.get_by_label("tags").fill('["wood", "kitchen"]')
    page.get_by_role("button", name="Create record").click()
    expect(page.locator("#flash")).to_contain_text("-5 is less than the minimum of 0")
    _screenshot(page, "record-form-error")
    page.get_by_label("Price").fill("25")
    page.get_by_label("Id (optional)").fill("chair")
    page.get_by_role("button", name="Create record").click()
    expect(page.get_by_role("heading", name="Record chair")).to_be_visible()
    page.get_by_label("Price").fill("30")
    page.get_by_role("button", name="Save record").click()
    expect(page.locator("#flash")).to_contain_text("Record saved.")
    page.get_by_role("link", name="JSON").click()
    expect(page.locator("#record-raw")).to_contain_text('"price": 30')

    # A hostile record (written through the API) renders inert, as text.
    hostile = requests.put(
        f"{server.url}/v1/buckets/shop/collections/products/records/hostile",
        json={"data": HOSTILE},
        auth=alice,
        timeout=10,
    )
    assert hostile.status_code == 201
    streamed: list[str] = []
    polled: list[str] = []
    page.on(
        "request",
        lambda request: (
            streamed if "text/event-stream" in request.headers.get("accept", "") else polled
        ).append(request.url),
    )
    _open(page, server, "buckets/shop/collections/products")
    expect(page.get_by_text("Showing 1-2 of 2")).to_be_visible()
    expect(page.locator("main table")).to_contain_text(HOSTILE["title"])
    _screenshot(page, "records")
    # Live updates: others' writes show up in the list being read.
    live_record = f"{server.url}/v1/buckets/shop/collections/products/records/live"
    written = requests.put(live_record, json={"data": {"title": "Live"}}, auth=alice, timeout=10)
    assert written.status_code == 201
    expect(page.get_by_text("Showing 1-3 of 3")).to_be_visible()
    expect(page.locator("main table")).to_contain_text("Live")
    assert requests.delete(live_record, auth=alice, timeout=10).status_code == 200
    expect(page.get_by_text("Showing 1-2 of 2")).to_be_visible()
    # The server announces `live`: the list follows its event stream (read with
    # fetch and the Authorization header), and does not poll its ETag.
    assert any(url.endswith("/collections/products/records") for url in streamed)
    assert not [url for url in polled if "_fields=id" in url]
    for route in ("", "?tab=json"):
        _open(page, server, f"buckets/shop/collections/products/records/hostile{route}")
        expect(page.get_by_role("heading", name="Record hostile")).to_be_visible()
        assert page.locator("main img, main script, a[href^='javascript']").count() == 0
    expect(page.locator("#record-raw")).to_contain_text(HOSTILE["homepage"])
    expect(page.locator("#record-raw")).to_contain_text(HOSTILE["note"])
    assert page.evaluate("window.__pwned") is None

    # Share the products collection with a group holding Bob.
    _open(page, server, "buckets/shop?tab=groups")
    new_group = page.get_by_role("form", name="New group")
    new_group.get_by_label("Id").fill("friends")
    new_group.get_by_label("Members (one principal per line)").fill("account:bob")
    new_group.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Group friends")).to_be_visible()
    page.get_by_label("Members (one principal per line)").fill("account:bob\naccount:carol")
    page.get_by_role("button", name="Save members").click()
    expect(page.locator("#flash")).to_contain_text("Members saved.")
    _open(page, server, "buckets/shop/collections/products?tab=permissions")
    page.get_by_label("Principal", exact=True).fill("/buckets/shop/groups/friends")
    page.get_by_label("Permission", exact=True).select_option("read")
    page.get_by_role("button", name="Add principal").click()
    expect(page.get_by_label("read", exact=True)).to_have_value("/buckets/shop/groups/friends")
    page.get_by_role("button", name="Save permissions").click()
    expect(page.locator("#flash")).to_contain_text("Permissions saved.")
    _screenshot(page, "permissions")
    _open(page, server, "account")
    expect(page.locator("#user-principals")).to_contain_text("account:alice")
    page.get_by_label("New password").fill("alice-secret-2")
    page.get_by_role("button", name="Change my password").click()
    expect(page.locator("#flash")).to_contain_text("Password changed.")
    alice = ("alice", "alice-secret-2")
    page.reload()  # The session goes on with the new password.
    expect(page.locator("#user-id")).to_have_text("account:alice")

    # History: who changed what, with a diff.
    _open(page, server, "buckets/shop/collections/products/records/chair?tab=history")
    entries = page.locator(".history-entry")
    expect(entries.first).to_contain_text("update")
    expect(entries.first).to_contain_text("+ price: 30")
    expect(entries.first).to_contain_text("- price: 25")
    expect(entries.first).to_contain_text("account:alice")
    _open(page, server, "buckets/shop?tab=history")
    expect(page.locator(".history-entry").first).to_contain_text("permissions.read")
    _screenshot(page, "history")
    page.get_by_label("Changes to").select_option("group")
    page.get_by_label("Made by").fill("account:alice")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".history-entry")).to_have_count(2)
    expect(page.locator(".history-entry").first).to_contain_text("+ members:")

    # An attachment: uploaded, downloaded, replaced, removed.
    _open(page, server, "buckets/shop/collections/products/records/chair?tab=attachment")
    page.get_by_label("File").set_input_files(
        {"name": "prices.csv", "mimeType": "text/csv", "buffer": ATTACHMENT}
    )
    page.get_by_role("button", name="Upload attachment").click()
    expect(page.locator("#attachment-download")).to_have_text("prices.csv")
    with page.expect_download() as download:
        page.locator("#attachment-download").click()
    assert Path(download.value.path()).read_bytes() == ATTACHMENT
    page.get_by_label("File").set_input_files(
        {"name": "new.csv", "mimeType": "text/csv", "buffer": b"a,b\n"}
    )
    page.get_by_role("button", name="Replace attachment").click()
    expect(page.locator("#attachment-download")).to_have_text("new.csv")
    _screenshot(page, "attachment")
    page.locator("#attachment-remove").click()
    expect(page.get_by_text("No attachment.")).to_be_visible()

    # Pagination (following Next-Page) reaches record 250 of 250, sorted by a column.
    _create_bulk_records(server, alice, 250)
    _open(page, server, "buckets/shop/collections/bulk")
    page.get_by_role("button", name="Sort by n").click()
    # The sorted page is drawn (the unsorted one showed the same summary).
    expect(page.get_by_role("button", name="Sort by n (ascending)")).to_be_visible()
    expect(page.get_by_text("Showing 1-100 of 250")).to_be_visible()
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Showing 101-200 of 250")).to_be_visible()
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Showing 201-250 of 250")).to_be_visible()
    expect(page.locator("main tbody tr").last.locator("td").nth(1)).to_have_text("250")
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_label("Field").fill("n")
    page.get_by_label("Condition").select_option("min_")
    page.get_by_label("Value").fill("246")
    page.get_by_role("button", name="Add filter").click()
    expect(page.get_by_text("Showing 1-5 of 5")).to_be_visible()
    # Deleting (confirmed in a dialog): the collection leaves the bucket's list.
    _open(page, server, "buckets/shop/collections/bulk?tab=settings")
    page.get_by_role("button", name="Delete collection bulk").click()
    expect(page.get_by_role("heading", name="Bucket shop")).to_be_visible()
    expect(page.get_by_text("Showing 1-1 of 1")).to_be_visible()
    expect(page.locator("main table")).not_to_contain_text("bulk")

    # Bob sees exactly what was shared: the products collection, nothing else.
    bob_context = browser.new_context(viewport={"width": 390, "height": 844})
    bob_context.set_default_timeout(TIMEOUT_MS)
    bob = bob_context.new_page()
    bob.take_screenshots = screenshots
    bob.on("dialog", lambda dialog: dialog.accept())
    _open(bob, server)
    _sign_up_and_in(bob, "bob", "bob-secret-1")
    expect(bob.get_by_text("No bucket you can read.")).to_be_visible()
    _open(bob, server, "buckets/shop/collections/products")
    expect(bob.get_by_text("Showing 1-2 of 2")).to_be_visible()
    _screenshot(bob, "records-phone")
    _open(bob, server, "buckets/shop/collections/bulk")
    expect(bob.get_by_role("heading", name="Could not load this page")).to_be_visible()
    _open(bob, server, "buckets/shop/collections/products/records/chair")
    bob.get_by_label("Price").fill("1")
    bob.get_by_role("button", name="Save record").click()
    expect(bob.locator("#flash")).to_contain_text("This user cannot access this resource.")

    # Signing out forgets the credentials.
    bob.get_by_role("button", name="Sign out").click()
    expect(bob.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    assert bob.evaluate("sessionStorage.length") == 0
    bob.reload()
    expect(bob.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()

    assert not [p for p in problems if "Content Security Policy" in p], problems
    assert not crashes, crashes
    alice_context.close()
    bob_context.close()


def test_admin_on_memory(browser: Any, admin_server: AdminServer) -> None:
    server = admin_server(
        {
            "kinto.storage_backend": "kinto.core.storage.memory",
            "kinto.permission_backend": "kinto.core.permission.memory",
            "kinto.cache_backend": "kinto.core.cache.memory",
        }
    )
    admin_scenario(browser, server, screenshots=True)


def test_admin_on_sqlite(browser: Any, admin_server: AdminServer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kinto.db'}"
    server = admin_server(sql_settings("kinto_clone.core.{kind}.sqlite", url))
    admin_scenario(browser, server, screenshots=False)


@pytest.mark.postgresql
def test_admin_on_postgresql(
    browser: Any, admin_server: AdminServer, empty_postgresql_url: str
) -> None:
    server = admin_server(sql_settings("kinto.core.{kind}.postgresql", empty_postgresql_url))
    admin_scenario(browser, server, screenshots=False)
