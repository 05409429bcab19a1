"""``/v1/accounts`` and the ``account`` authentication policy (``kinto.plugins.accounts``)."""

from __future__ import annotations

import json
from unittest import mock

import bcrypt
import pytest
import webtest
from pyramid.exceptions import ConfigurationError

from kinto_clone.plugins.accounts import utils
from tests.plugins.conftest import ACCOUNTS_SETTINGS, MakeApp, basic_auth

ALICE = basic_auth("alice", "alice-pw")
BOB = basic_auth("bob", "bob-pw")
ADMIN = basic_auth("admin", "admin-pw")


@pytest.fixture
def app(make_app: MakeApp) -> webtest.TestApp:
    return make_app(ACCOUNTS_SETTINGS)


@pytest.fixture
def accounts(app: webtest.TestApp) -> webtest.TestApp:
    """Accounts ``alice``, ``bob`` and ``admin`` (an administrator by settings)."""
    for name in ("alice", "bob", "admin"):
        app.put_json(f"/v1/accounts/{name}", {"data": {"password": f"{name}-pw"}}, status=201)
    return app


def user_of(app: webtest.TestApp, headers: dict[str, str]) -> str | None:
    user = app.get("/v1/", headers=headers).json.get("user")
    return user["id"] if user else None


# --- Capability and configuration -----------------------------------------------------


def test_capability_is_advertised(app: webtest.TestApp) -> None:
    assert app.get("/v1/").json["capabilities"]["accounts"] == {
        "description": "Manage user accounts.",
        "url": "https://kinto.readthedocs.io/en/latest/api/1.x/accounts.html",
        "validation_enabled": False,
    }


def test_the_policy_must_be_configured(make_app: MakeApp) -> None:
    with pytest.raises(ConfigurationError, match="Account policy missing"):
        make_app({"kinto.includes": "kinto.plugins.accounts"})


def test_basicauth_may_not_come_before_the_account_policy(make_app: MakeApp) -> None:
    settings = {**ACCOUNTS_SETTINGS, "multiauth.policies": "basicauth account"}
    with pytest.raises(ConfigurationError, match="'basicauth' should not be mentioned"):
        make_app(settings)


def test_account_creators_must_be_administrators(make_app: MakeApp) -> None:
    settings = {**ACCOUNTS_SETTINGS, "kinto.account_create_principals": "account:boss"}
    with pytest.raises(ConfigurationError, match="account_create_principals"):
        make_app(settings)


def test_kinto_policy_names_are_accepted(make_app: MakeApp) -> None:
    use = "kinto.plugins.accounts.authentication.AccountsAuthenticationPolicy"
    app = make_app({**ACCOUNTS_SETTINGS, "multiauth.policy.account.use": use})
    app.put_json("/v1/accounts/alice", {"data": {"password": "alice-pw"}}, status=201)
    assert user_of(app, ALICE) == "account:alice"


@pytest.mark.parametrize("rounds", ["3", "32", "many"])
def test_invalid_bcrypt_rounds_are_refused(make_app: MakeApp, rounds: str) -> None:
    with pytest.raises(ConfigurationError, match="account_bcrypt_rounds"):
        make_app({**ACCOUNTS_SETTINGS, "kinto.account_bcrypt_rounds": rounds})


# --- Sign-up -----------------------------------------------------------------------


def test_anyone_can_sign_up_with_put(app: webtest.TestApp) -> None:
    response = app.put_json("/v1/accounts/alice", {"data": {"password": "alice-pw"}}, status=201)
    assert response.json["data"]["id"] == "alice"
    assert response.json["permissions"] == {"write": ["account:alice"]}


def test_anyone_can_sign_up_with_post(app: webtest.TestApp) -> None:
    body = {"data": {"id": "alice", "password": "alice-pw", "age": 42}}
    response = app.post_json("/v1/accounts", body, status=201)
    assert response.json["data"]["age"] == 42
    assert user_of(app, ALICE) == "account:alice"


def test_post_needs_an_id(app: webtest.TestApp) -> None:
    response = app.post_json("/v1/accounts", {"data": {"password": "pw"}}, status=400)
    assert response.json["errno"] == 107
    assert response.json["details"][0]["name"] == "data.id"
    assert response.json["message"] == "data.id in body: Required"


def test_post_with_invalid_json_is_a_400(app: webtest.TestApp) -> None:
    response = app.post(
        "/v1/accounts", "{not json", headers={"Content-Type": "application/json"}, status=400
    )
    assert response.json["errno"] == 107


def test_password_is_required(app: webtest.TestApp) -> None:
    response = app.put_json("/v1/accounts/alice", {"data": {}}, status=400)
    assert response.json["message"] == "data.password in body: Required"


def test_password_must_be_a_string(app: webtest.TestApp) -> None:
    response = app.put_json("/v1/accounts/alice", {"data": {"password": 12}}, status=400)
    assert response.json["details"][0]["name"] == "data.password"


def test_passwords_longer_than_bcrypt_accepts_are_refused(app: webtest.TestApp) -> None:
    body = {"data": {"password": "é" * 40}}  # 80 bytes
    response = app.put_json("/v1/accounts/alice", body, status=400)
    assert response.json["details"][0]["name"] == "data.password"


def test_ids_may_be_email_addresses(app: webtest.TestApp) -> None:
    app.put_json("/v1/accounts/alice+test@example.com", {"data": {"password": "pw"}}, status=201)
    headers = basic_auth("alice+test@example.com", "pw")
    assert user_of(app, headers) == "account:alice+test@example.com"


def test_invalid_ids_are_refused(app: webtest.TestApp) -> None:
    response = app.put_json("/v1/accounts/_alice", {"data": {"password": "pw"}}, status=400)
    assert response.json["message"] == "path: Invalid object id"


def test_body_id_must_match_the_url(app: webtest.TestApp) -> None:
    body = {"data": {"id": "bob", "password": "pw"}}
    response = app.put_json("/v1/accounts/alice", body, status=400)
    assert "does not match" in response.json["message"]


def test_existing_accounts_cannot_be_taken_over(accounts: webtest.TestApp) -> None:
    body = {"data": {"password": "stolen"}}
    accounts.put_json("/v1/accounts/alice", body, status=401)
    body = {"data": {"id": "alice", "password": "stolen"}}
    accounts.post_json("/v1/accounts", body, status=401)
    assert user_of(accounts, ALICE) == "account:alice"


def test_post_of_an_existing_account_by_its_owner_returns_it(accounts: webtest.TestApp) -> None:
    body = {"data": {"id": "alice", "password": "ignored"}}
    response = accounts.post_json("/v1/accounts", body, headers=ALICE, status=200)
    assert response.json["data"]["id"] == "alice"
    assert user_of(accounts, ALICE) == "account:alice"


def test_users_cannot_create_accounts_for_others(accounts: webtest.TestApp) -> None:
    body = {"data": {"password": "pw"}}
    response = accounts.put_json("/v1/accounts/carol", body, headers=ALICE, status=400)
    assert response.json["message"] == "data.id in body: Username and account ID do not match."
    body = {"data": {"id": "carol", "password": "pw"}}
    accounts.post_json("/v1/accounts", body, headers=ALICE, status=400)


def test_settings_may_forbid_sign_ups(make_app: MakeApp) -> None:
    settings = {**ACCOUNTS_SETTINGS, "kinto.account_create_principals": "account:admin"}
    app = make_app(settings)
    app.put_json("/v1/accounts/alice", {"data": {"password": "pw"}}, status=401)


# --- Passwords are never shown ------------------------------------------------------


def test_password_is_stored_hashed(accounts: webtest.TestApp) -> None:
    stored = accounts.app.registry.storage.get("account", "alice", "alice")
    assert stored["password"] != "alice-pw"
    assert bcrypt.checkpw(b"alice-pw", stored["password"].encode())


def test_bcrypt_rounds_setting_is_used(accounts: webtest.TestApp) -> None:
    stored = accounts.app.registry.storage.get("account", "alice", "alice")
    assert stored["password"].startswith("$2b$04$")


def test_no_response_carries_the_password(accounts: webtest.TestApp) -> None:
    responses = [
        accounts.put_json("/v1/accounts/carol", {"data": {"password": "pw"}}),
        accounts.post_json("/v1/accounts", {"data": {"id": "dave", "password": "pw"}}),
        accounts.post_json(
            "/v1/accounts", {"data": {"id": "alice", "password": "x"}}, headers=ALICE
        ),
        accounts.get("/v1/accounts", headers=ALICE),
        accounts.get("/v1/accounts/alice", headers=ALICE),
        accounts.patch_json("/v1/accounts/alice", {"data": {"age": 3}}, headers=ALICE),
        accounts.put_json(
            "/v1/accounts/alice", {"data": {"password": "alice-pw", "age": 4}}, headers=ALICE
        ),
        accounts.patch_json(
            "/v1/accounts/bob",
            {"data": {"password": "new"}},
            headers={**BOB, "Response-Behavior": "light"},
        ),
        accounts.delete("/v1/accounts/carol", headers=basic_auth("carol", "pw")),
        accounts.delete("/v1/accounts", headers=basic_auth("dave", "pw")),
    ]
    for response in responses:
        assert "password" not in response.text, response.request.url


def test_batch_responses_carry_no_password(accounts: webtest.TestApp) -> None:
    body = {
        "requests": [
            {"method": "GET", "path": "/accounts/alice"},
            {"method": "PATCH", "path": "/accounts/alice", "body": {"data": {"age": 2}}},
            {"method": "PUT", "path": "/accounts/carol", "body": {"data": {"password": "pw"}}},
        ]
    }
    response = accounts.post_json("/v1/batch", body, headers=ALICE)
    assert [r["status"] for r in response.json["responses"]] == [200, 200, 400]
    assert "password" not in response.text


def test_lists_cannot_be_filtered_on_the_password(accounts: webtest.TestApp) -> None:
    for query in ("like_password=*", "password=x", "_sort=password", "has_password=true"):
        response = accounts.get(f"/v1/accounts?{query}", headers=ALICE, status=400)
        assert response.json["errno"] == 107


def test_password_changed_with_json_patch_is_hashed(accounts: webtest.TestApp) -> None:
    operations = [{"op": "replace", "path": "/data/password", "value": "patched"}]
    accounts.patch(
        "/v1/accounts/alice",
        json.dumps(operations),
        headers={**ALICE, "Content-Type": "application/json-patch+json"},
    )
    stored = accounts.app.registry.storage.get("account", "alice", "alice")
    assert stored["password"] != "patched"
    assert user_of(accounts, basic_auth("alice", "patched")) == "account:alice"


# --- Authentication --------------------------------------------------------------------


def test_account_credentials_authenticate(accounts: webtest.TestApp) -> None:
    user = accounts.get("/v1/", headers=ALICE).json["user"]
    assert user["id"] == "account:alice"
    assert user["principals"] == ["account:alice", "system.Authenticated", "system.Everyone"]


def test_wrong_password_falls_back_to_basicauth(accounts: webtest.TestApp) -> None:
    userid = user_of(accounts, basic_auth("alice", "wrong"))
    assert userid is not None
    assert userid.startswith("basicauth:")


def test_unknown_account_is_not_authenticated_by_accounts_alone(make_app: MakeApp) -> None:
    app = make_app({**ACCOUNTS_SETTINGS, "multiauth.policies": "account"})
    assert user_of(app, basic_auth("nobody", "pw")) is None
    app.put_json("/v1/accounts/alice", {"data": {"password": "alice-pw"}})
    assert user_of(app, basic_auth("alice", "")) is None
    assert user_of(app, ALICE) == "account:alice"


def test_successful_checks_are_cached(accounts: webtest.TestApp) -> None:
    with mock.patch.object(utils.bcrypt, "checkpw", wraps=bcrypt.checkpw) as checkpw:
        assert user_of(accounts, ALICE) == "account:alice"
        assert user_of(accounts, ALICE) == "account:alice"
        assert user_of(accounts, ALICE) == "account:alice"
    assert checkpw.call_count == 1


def test_cache_survives_requests_that_fail(accounts: webtest.TestApp) -> None:
    with mock.patch.object(utils.bcrypt, "checkpw", wraps=bcrypt.checkpw) as checkpw:
        accounts.get("/v1/accounts/bob", headers=ALICE, status=403)
        accounts.get("/v1/accounts/bob", headers=ALICE, status=403)
    assert checkpw.call_count == 1


def test_cache_entry_holds_no_password(accounts: webtest.TestApp) -> None:
    user_of(accounts, ALICE)
    registry = accounts.app.registry
    key = utils.cache_key(registry.settings, "alice")
    assert "alice" not in key
    value = registry.cache.get(key)
    assert value is not None
    stored = registry.storage.get("account", "alice", "alice")["password"]
    assert "alice-pw" not in value
    assert stored not in value
    assert 0 < registry.cache.ttl(key) <= 30


def test_cache_ttl_setting(make_app: MakeApp) -> None:
    app = make_app({**ACCOUNTS_SETTINGS, "kinto.account_cache_ttl_seconds": "300"})
    app.put_json("/v1/accounts/alice", {"data": {"password": "alice-pw"}})
    user_of(app, ALICE)
    registry = app.app.registry
    assert registry.cache.ttl(utils.cache_key(registry.settings, "alice")) > 30


def test_password_change_invalidates_the_cache(accounts: webtest.TestApp) -> None:
    user_of(accounts, ALICE)
    accounts.patch_json("/v1/accounts/alice", {"data": {"password": "new-pw"}}, headers=ALICE)
    registry = accounts.app.registry
    assert registry.cache.get(utils.cache_key(registry.settings, "alice")) is None
    assert user_of(accounts, ALICE).startswith("basicauth:")
    assert user_of(accounts, basic_auth("alice", "new-pw")) == "account:alice"


def test_password_reset_outside_the_api_voids_the_cache(accounts: webtest.TestApp) -> None:
    user_of(accounts, ALICE)
    registry = accounts.app.registry
    # As ``kinto create-user`` does: straight to storage, no event.
    stored = registry.storage.get("account", "alice", "alice")
    stored["password"] = utils.hash_password("other", rounds=4)
    registry.storage.update("account", "alice", "alice", stored)
    assert user_of(accounts, ALICE).startswith("basicauth:")


def test_deleted_account_no_longer_authenticates(accounts: webtest.TestApp) -> None:
    user_of(accounts, ALICE)
    accounts.delete("/v1/accounts/alice", headers=ALICE)
    assert user_of(accounts, ALICE).startswith("basicauth:")


def test_401_asks_for_basic_credentials(accounts: webtest.TestApp) -> None:
    response = accounts.get("/v1/accounts/alice", status=401)
    assert response.json["errno"] == 104
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Realm"'


# --- Permissions ---------------------------------------------------------------------


def test_users_read_and_list_only_their_own_account(accounts: webtest.TestApp) -> None:
    response = accounts.get("/v1/accounts", headers=ALICE)
    assert [a["id"] for a in response.json["data"]] == ["alice"]
    accounts.get("/v1/accounts/alice", headers=ALICE, status=200)
    accounts.get("/v1/accounts/bob", headers=ALICE, status=403)
    accounts.get("/v1/accounts/unknown", headers=ALICE, status=403)


def test_anonymous_cannot_list_accounts(accounts: webtest.TestApp) -> None:
    accounts.get("/v1/accounts", status=401)
    accounts.delete("/v1/accounts", status=401)
    accounts.get("/v1/accounts/alice", status=401)


def test_users_modify_only_their_own_account(accounts: webtest.TestApp) -> None:
    accounts.patch_json("/v1/accounts/bob", {"data": {"age": 1}}, headers=ALICE, status=403)
    accounts.delete("/v1/accounts/bob", headers=ALICE, status=403)
    response = accounts.patch_json("/v1/accounts/alice", {"data": {"age": 1}}, headers=ALICE)
    assert response.json["data"]["age"] == 1


def test_users_delete_their_account(accounts: webtest.TestApp) -> None:
    response = accounts.delete("/v1/accounts/alice", headers=ALICE)
    assert response.json["data"]["deleted"] is True
    assert accounts.app.registry.permission.get_object_permissions("/accounts/alice") == {}


def test_plural_delete_only_reaches_the_own_account(accounts: webtest.TestApp) -> None:
    response = accounts.delete("/v1/accounts", headers=BOB)
    assert [a["id"] for a in response.json["data"]] == ["bob"]
    accounts.get("/v1/accounts/alice", headers=ALICE, status=200)


def test_other_users_see_an_empty_list(accounts: webtest.TestApp) -> None:
    response = accounts.get("/v1/accounts", headers=basic_auth("zed", "pw"))
    assert response.json["data"] == []


def test_admins_read_and_change_any_account(accounts: webtest.TestApp) -> None:
    response = accounts.get("/v1/accounts/bob", headers=ADMIN)
    assert response.json["data"]["id"] == "bob"
    assert response.json["permissions"] == {"write": ["account:bob"]}
    accounts.patch_json("/v1/accounts/bob", {"data": {"password": "reset"}}, headers=ADMIN)
    assert user_of(accounts, basic_auth("bob", "reset")) == "account:bob"
    response = accounts.get("/v1/accounts/unknown", headers=ADMIN, status=404)
    assert response.json["errno"] == 110


def test_admins_create_accounts_owned_by_their_users(accounts: webtest.TestApp) -> None:
    response = accounts.put_json("/v1/accounts/carol", {"data": {"password": "pw"}}, headers=ADMIN)
    assert response.json["permissions"] == {"write": ["account:carol"]}
    body = {"data": {"id": "dave", "password": "pw"}}
    response = accounts.post_json("/v1/accounts", body, headers=ADMIN, status=201)
    assert response.json["permissions"] == {"write": ["account:dave"]}
    assert user_of(accounts, basic_auth("dave", "pw")) == "account:dave"
    assert accounts.get("/v1/accounts/dave", headers=basic_auth("dave", "pw")).status_int == 200


def test_admins_list_every_account_with_read_principals(make_app: MakeApp) -> None:
    settings = {**ACCOUNTS_SETTINGS, "kinto.account_read_principals": "account:admin"}
    app = make_app(settings)
    for name in ("alice", "bob", "admin"):
        app.put_json(f"/v1/accounts/{name}", {"data": {"password": f"{name}-pw"}})
    response = app.get("/v1/accounts?_sort=id", headers=ADMIN)
    assert [a["id"] for a in response.json["data"]] == ["admin", "alice", "bob"]
    response = app.head("/v1/accounts", headers=ADMIN)
    assert response.headers["Total-Objects"] == "3"


def test_admins_without_read_principals_list_their_own_accounts(
    accounts: webtest.TestApp,
) -> None:
    # As Kinto 26.5.0: listing everything needs ``account_read_principals``.
    response = accounts.get("/v1/accounts", headers=ADMIN)
    assert [a["id"] for a in response.json["data"]] == ["admin"]


def test_admins_delete_every_account(accounts: webtest.TestApp) -> None:
    response = accounts.delete("/v1/accounts", headers=ADMIN)
    assert sorted(a["id"] for a in response.json["data"]) == ["admin", "alice", "bob"]
    assert user_of(accounts, ALICE).startswith("basicauth:")


def test_accounts_can_own_buckets(accounts: webtest.TestApp) -> None:
    response = accounts.put_json("/v1/buckets/b", {}, headers=ALICE, status=201)
    assert response.json["permissions"] == {"write": ["account:alice"]}
