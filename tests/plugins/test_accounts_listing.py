"""Administrators list every account: one parent per account, a ``*`` pattern to list.

Each account is its own group, so the list's timestamp (its ETag, and the
point after which objects are left to the next poll) is the newest of every
account's, and its pages break timestamp ties on the id.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import webtest

from tests.plugins.conftest import ACCOUNTS_SETTINGS, MakeApp, basic_auth

ADMIN = basic_auth("admin", "admin-pw")
SETTINGS = {**ACCOUNTS_SETTINGS, "kinto.account_read_principals": "account:admin"}


@pytest.fixture
def app(make_app: MakeApp) -> webtest.TestApp:
    app = make_app(SETTINGS)
    app.put_json("/v1/accounts/admin", {"data": {"password": "admin-pw"}}, status=201)
    return app


def sign_up(app: webtest.TestApp, *names: str, **data: object) -> None:
    for name in names:
        body = {"data": {"password": f"{name}-pw", **data}}
        app.put_json(f"/v1/accounts/{name}", body, status=201)


def listed(app: webtest.TestApp, query: str = "") -> list[str]:
    return [obj["id"] for obj in app.get(f"/v1/accounts?{query}", headers=ADMIN).json["data"]]


def paged(send: Callable[..., webtest.TestResponse], url: str) -> list[str]:
    """Ids of the objects of every page, following ``Next-Page`` from ``url``."""
    ids = []
    while url:
        response = send(url, headers=ADMIN)
        ids += [obj["id"] for obj in response.json["data"]]
        url = response.headers.get("Next-Page", "")
    return ids


def test_accounts_made_after_a_first_list_are_listed(app: webtest.TestApp) -> None:
    first = app.get("/v1/accounts", headers=ADMIN)
    sign_up(app, "alice", "bob")
    second = app.get("/v1/accounts", headers=ADMIN)
    assert sorted(obj["id"] for obj in second.json["data"]) == ["admin", "alice", "bob"]
    assert second.headers["ETag"] != first.headers["ETag"]
    app.get("/v1/accounts", headers={**ADMIN, "If-None-Match": second.headers["ETag"]}, status=304)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("id=bob", ["bob"]),
        ("in_id=alice,bob", ["alice", "bob"]),
        ("not_id=bob", ["admin", "alice", "carol"]),
        ("exclude_id=alice,bob", ["admin", "carol"]),
        ("like_id=*o*", ["bob", "carol"]),
        ("has_id=true", ["admin", "alice", "bob", "carol"]),
        ("lt_id=bob", ["admin", "alice"]),
        ("gt_id=bob", ["carol"]),
        ("min_id=bob", ["bob", "carol"]),
        ("max_id=alice", ["admin", "alice"]),
        ("team=red", ["alice", "carol"]),
        ("in_team=red,blue", ["alice", "bob", "carol"]),
        ("not_team=red", ["admin", "bob"]),
        ("exclude_team=red", ["admin", "bob"]),
        ("like_team=re", ["alice", "carol"]),
        ("has_team=false", ["admin"]),
        ("lt_team=red", ["bob"]),
        ("gt_team=blue", ["admin", "alice", "carol"]),
        ("min_team=red", ["admin", "alice", "carol"]),
        ("max_team=blue", ["bob"]),
        ("contains_roles=dev", ["alice", "bob"]),
        ('contains_any_roles=["ops","qa"]', ["bob", "carol"]),
    ],
)
def test_every_filter_finds_accounts_made_after_a_first_list(
    app: webtest.TestApp, query: str, expected: list[str]
) -> None:
    listed(app)
    sign_up(app, "alice", team="red", roles=["dev"])
    sign_up(app, "bob", team="blue", roles=["dev", "ops"])
    sign_up(app, "carol", team="red", roles=["qa"])
    assert sorted(listed(app, query)) == expected


def test_timestamp_filters_across_accounts(app: webtest.TestApp) -> None:
    etag = app.get("/v1/accounts", headers=ADMIN).headers["ETag"].strip('"')
    sign_up(app, "alice", "bob")
    assert sorted(listed(app, f"_since={etag}")) == ["alice", "bob"]
    bob = app.get("/v1/accounts/bob", headers=ADMIN).json["data"]["last_modified"]
    assert sorted(listed(app, f"_before={bob}")) == ["admin", "alice"]


def test_pages_over_accounts_of_equal_timestamps(app: webtest.TestApp) -> None:
    """Accounts are separate groups: their timestamps may be equal."""
    sign_up(app, "alice", "bob", "carol", "dave", last_modified=2_000_000_000_000)
    seen = paged(app.get, "/v1/accounts?_limit=1")
    assert sorted(seen) == ["admin", "alice", "bob", "carol", "dave"]
    assert seen == listed(app)


def test_delete_pages_over_accounts_of_equal_timestamps(app: webtest.TestApp) -> None:
    sign_up(app, "alice", "bob", "carol", "dave", last_modified=2_000_000_000_000)
    deleted = paged(app.delete, "/v1/accounts?not_id=admin&_limit=2")
    assert sorted(deleted) == ["alice", "bob", "carol", "dave"]
    assert listed(app) == ["admin"]
