"""``GET /v1/permissions`` (``kinto.experimental_permissions_endpoint``, or the admin)."""

from __future__ import annotations

import pytest
import webtest

from tests.plugins.conftest import ACCOUNTS_SETTINGS, MakeApp, basic_auth, principal_of

ALICE = basic_auth("alice")
BOB = basic_auth("bob")
ENABLED = {"kinto.experimental_permissions_endpoint": "true"}


@pytest.fixture
def app(make_app: MakeApp) -> webtest.TestApp:
    return make_app(ENABLED)


@pytest.fixture
def tree(app: webtest.TestApp) -> webtest.TestApp:
    """Alice's bucket ``b`` (collection ``c`` open for records, record ``r``,
    group ``g`` holding Alice) and Bob's bucket ``q`` readable by that group."""
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    body = {"permissions": {"record:create": ["system.Everyone"]}}
    app.put_json("/v1/buckets/b/collections/c", body, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c/records/r", {}, headers=ALICE)
    members = {"data": {"members": [principal_of(app, ALICE)]}}
    app.put_json("/v1/buckets/b/groups/g", members, headers=ALICE)
    app.put_json("/v1/buckets/q", {"permissions": {"read": ["/buckets/b/groups/g"]}}, headers=BOB)
    return app


def entries(app: webtest.TestApp, query: str = "", **kwargs) -> list[dict]:
    return app.get(f"/v1/permissions{query}", **kwargs).json["data"]


def test_capability_only_when_enabled(app: webtest.TestApp, make_app: MakeApp) -> None:
    assert app.get("/v1/").json["capabilities"]["permissions_endpoint"] == {
        "description": "The permissions endpoint can be used to list all user objects "
        "permissions.",
        "url": "https://kinto.readthedocs.io/en/latest/configuration/settings.html"
        "#activating-the-permissions-endpoint",
    }
    disabled = make_app()
    assert "permissions_endpoint" not in disabled.get("/v1/").json["capabilities"]
    disabled.get("/v1/permissions", headers=ALICE, status=404)


def test_enabled_by_the_admin_plugin(make_app: MakeApp) -> None:
    # Kinto 26.5.0 turns it on with ``kinto.plugins.admin``, which lists it.
    app = make_app({"kinto.includes": "kinto.plugins.admin"})
    assert "permissions_endpoint" in app.get("/v1/").json["capabilities"]
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    # ``/`` is Alice's ``bucket:create``, granted by the default settings.
    assert [entry["uri"] for entry in entries(app, headers=ALICE)] == ["/buckets/b", "/"]


def test_lists_every_object_with_expanded_permissions(tree: webtest.TestApp) -> None:
    assert entries(tree, headers=ALICE) == [
        {
            "uri": "/buckets/q",
            "resource_name": "bucket",
            "permissions": ["read", "read:attributes"],
            "id": "q",
            "bucket_id": "q",
        },
        {
            "uri": "/buckets/b/groups/g",
            "resource_name": "group",
            "permissions": ["read", "write"],
            "bucket_id": "b",
            "id": "g",
            "group_id": "g",
        },
        {
            "uri": "/buckets/b/collections/c/records/r",
            "resource_name": "record",
            "permissions": ["read", "write"],
            "bucket_id": "b",
            "collection_id": "c",
            "id": "r",
            "record_id": "r",
        },
        {
            "uri": "/buckets/b/collections/c",
            "resource_name": "collection",
            "permissions": ["read", "read:attributes", "record:create", "write"],
            "bucket_id": "b",
            "id": "c",
            "collection_id": "c",
        },
        {
            "uri": "/buckets/b",
            "resource_name": "bucket",
            "permissions": [
                "collection:create",
                "group:create",
                "read",
                "read:attributes",
                "write",
            ],
            "id": "b",
            "bucket_id": "b",
        },
        {"uri": "/", "resource_name": "root", "permissions": ["bucket:create"]},
    ]


def test_anonymous_callers_see_public_objects(tree: webtest.TestApp) -> None:
    assert entries(tree) == [
        {
            "uri": "/buckets/b/collections/c",
            "resource_name": "collection",
            "permissions": ["read:attributes", "record:create"],
            "bucket_id": "b",
            "id": "c",
            "collection_id": "c",
        }
    ]


def test_filtering_and_sorting(tree: webtest.TestApp) -> None:
    buckets = entries(tree, "?resource_name=bucket&_sort=uri", headers=ALICE)
    assert [e["uri"] for e in buckets] == ["/buckets/b", "/buckets/q"]
    in_b = entries(tree, "?bucket_id=b&_sort=-resource_name", headers=ALICE)
    assert [e["resource_name"] for e in in_b] == ["record", "group", "collection", "bucket"]
    writable = entries(tree, "?contains_permissions=write", headers=ALICE)
    assert len(writable) == 4
    # Entries have no timestamp: timestamp filters do not exclude anything.
    assert len(entries(tree, "?_since=10", headers=ALICE)) == 6
    assert entries(tree, "?_fields=uri&resource_name=root", headers=ALICE) == [{"uri": "/"}]


def test_unknown_fields_are_refused(tree: webtest.TestApp) -> None:
    response = tree.get("/v1/permissions?foo=1", headers=ALICE, status=400)
    assert response.json["message"] == "Unknown filter field 'foo'"
    tree.get("/v1/permissions?_sort=foo", headers=ALICE, status=400)


def test_pagination(tree: webtest.TestApp) -> None:
    response = tree.get("/v1/permissions?_limit=4", headers=ALICE)
    uris = [e["uri"] for e in response.json["data"]]
    next_page = response.headers["Next-Page"].replace("http://localhost", "")
    response = tree.get(next_page, headers=ALICE)
    uris += [e["uri"] for e in response.json["data"]]
    assert "Next-Page" not in response.headers
    assert uris == sorted(uris, reverse=True)
    assert len(set(uris)) == 6


def test_head_counts(tree: webtest.TestApp) -> None:
    response = tree.head("/v1/permissions?resource_name=bucket", headers=ALICE)
    assert response.headers["Total-Objects"] == "2"


def test_only_get(tree: webtest.TestApp) -> None:
    tree.delete("/v1/permissions", headers=ALICE, status=405)
    tree.get("/v1/permissions/x", headers=ALICE, status=404)


def test_settings_grants_are_listed(make_app: MakeApp) -> None:
    app = make_app({**ENABLED, "kinto.bucket_write_principals": "system.Authenticated"})
    alice_app_bob = principal_of(app, BOB)
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    listed = {e["uri"]: e["permissions"] for e in entries(app, headers=BOB)}
    assert alice_app_bob.startswith("basicauth:")
    assert listed["/buckets/b"] == [
        "collection:create",
        "group:create",
        "read",
        "read:attributes",
        "write",
    ]
    assert listed["/"] == ["bucket:create"]


def test_settings_grants_on_collections(make_app: MakeApp) -> None:
    app = make_app({**ENABLED, "kinto.collection_read_principals": "system.Authenticated"})
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    listed = {e["uri"]: e["permissions"] for e in entries(app, headers=BOB)}
    assert listed["/buckets/b/collections/c"] == ["read", "read:attributes"]
    assert "/buckets/b" not in listed


def test_accounts_and_history_entries(make_app: MakeApp) -> None:
    settings = {**ACCOUNTS_SETTINGS, **ENABLED}
    settings["kinto.includes"] += " kinto.plugins.history"
    app = make_app(settings)
    app.put_json("/v1/accounts/alice", {"data": {"password": "pw"}})
    headers = basic_auth("alice", "pw")
    app.put_json("/v1/buckets/b", {}, headers=headers)
    listed = {e["uri"]: e for e in entries(app, headers=headers)}
    # History entries have ACEs but no object endpoint: not listed.
    assert set(listed) == {"/", "/accounts/alice", "/buckets/b"}
    assert listed["/accounts/alice"] == {
        "uri": "/accounts/alice",
        "resource_name": "account",
        "permissions": ["read", "write"],
        "id": "alice",
        "account_id": "alice",
    }
    assert listed["/"]["permissions"] == ["account:create", "bucket:create"]


def test_read_principals_setting_restricts_the_endpoint(make_app: MakeApp) -> None:
    app = make_app({**ENABLED, "kinto.permissions_read_principals": "system.Authenticated"})
    app.get("/v1/permissions", status=401)
    app.get("/v1/permissions", headers=ALICE, status=200)
