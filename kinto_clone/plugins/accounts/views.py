"""``/accounts`` and ``/accounts/{id}``: sign-up, password changes, administration.

Each account is stored with its own id as parent (``("account", "alice")``), so
that a user's plural endpoint only ever reaches their own account; administrators
(``kinto.account_write_principals``) work on every parent (``*``) when listing.
Who may do what, as in Kinto 26.5.0:

* anyone in ``kinto.account_create_principals`` signs up (``PUT /accounts/alice``
  or ``POST /accounts`` with ``data.id``), and the new account gets ``write`` for
  ``account:alice`` whoever created it;
* an authenticated user only creates or changes the account whose id is their
  own user id (400 "Username and account ID do not match." otherwise), and is
  refused (403) on other accounts;
* administrators read and change any account (and list them all when also in
  ``kinto.account_read_principals``).

Passwords are bcrypt-hashed before storage and never returned: unlike Kinto
26.5.0, which echoes the hash, no response carries a ``password`` field, and
lists cannot be filtered or sorted on it (that would leak the hash too).
"""

from __future__ import annotations

import json
from typing import Any

import colander
from pyramid import httpexceptions
from pyramid.request import Request

from kinto_clone.core.errors import raise_invalid
from kinto_clone.core.events import ACTIONS
from kinto_clone.core.resource import ObjectSchema, Resource
from kinto_clone.core.resource.querystring import ListQuery
from kinto_clone.core.storage import Sort
from kinto_clone.core.storage.generators import NameGenerator
from kinto_clone.plugins.accounts import utils

PASSWORD_FIELD = "password"


class AccountIdGenerator(NameGenerator):
    """Account ids may be e-mail addresses (``@``, ``+``, ``.``)."""

    regexp = r"^[a-zA-Z0-9][+.@a-zA-Z0-9_-]*$"


def _validate_password(node: colander.SchemaNode, value: str) -> None:
    if len(value.encode("utf-8")) > utils.MAX_PASSWORD_BYTES:
        raise colander.Invalid(node, f"Longer than {utils.MAX_PASSWORD_BYTES} bytes")


class AccountSchema(ObjectSchema):
    password = colander.SchemaNode(colander.String(), validator=_validate_password)


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {key: value for key, value in obj.items() if key != PASSWORD_FIELD}
    return obj


def _without_password(result: dict[str, Any]) -> dict[str, Any]:
    """The response body without the password hash (copied: the objects may also
    be in the request's pending events)."""
    data = result.get("data")
    stripped = [_strip(obj) for obj in data] if isinstance(data, list) else _strip(data)
    return {**result, "data": stripped}


def _posted_id(request: Request) -> Any:
    """``data.id`` of a POST body (accounts are created under their own id)."""
    try:
        return json.loads(request.body)["data"]["id"]
    except (ValueError, KeyError, TypeError):
        raise_invalid(request, name="data.id", description="data.id in body: Required")
    raise AssertionError("unreachable")


class Account(Resource):
    name = "account"
    plural_path = "/accounts"
    object_path = "/accounts/{id}"
    schema = AccountSchema

    def __init__(self, request: Request) -> None:
        admins = request.registry.principals_settings.get("account_write_principals", set())
        self.is_administrator = not admins.isdisjoint(request.prefixed_principals)
        userid = request.prefixed_userid
        self.is_anonymous = userid is None
        # The user id without the policy prefix (``alice`` of ``account:alice``).
        self.selected_userid = userid.split(":", 1)[1] if userid else None
        super().__init__(request)
        self.model.id_generator = AccountIdGenerator()
        if self.is_anonymous or self.is_administrator:
            # Sign-ups and accounts made by admins belong to the new account.
            self.model.current_principal = f"{utils.ACCOUNT_POLICY_NAME}:{self.model.parent_id}"

    def get_parent_id(self) -> str:
        on_plural = "id" not in self.matchdict
        if self.is_administrator:
            if not on_plural:
                return self.matchdict["id"]
            return str(_posted_id(self.request)) if self.request.method == "POST" else "*"
        if self.selected_userid is not None:
            return self.selected_userid
        if not on_plural:
            return self.matchdict["id"]
        if self.request.method == "POST":
            return str(_posted_id(self.request))
        # Anonymous callers have no accounts to list or delete.
        raise httpexceptions.HTTPForbidden()

    def process_object(self, new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        password = new.get(PASSWORD_FIELD)
        # A value differing from the stored hash is a new clear-text password,
        # whatever the request format (JSON merge, JSON patch...).
        if password is not None and password != (old or {}).get(PASSWORD_FIELD):
            rounds = utils.bcrypt_rounds(self.request.registry.settings)
            new[PASSWORD_FIELD] = utils.hash_password(password, rounds)
        if "id" not in new:
            raise_invalid(self.request, name="data.id", description="Accounts must have an ID.")
        if not (self.is_administrator or self.is_anonymous) and new["id"] != self.selected_userid:
            raise_invalid(
                self.request, name="data.id", description="Username and account ID do not match."
            )
        return new

    def on_changed(
        self,
        action: ACTIONS,
        new_objects: list[dict[str, Any]],
        old_objects: list[dict[str, Any] | None],
    ) -> None:
        if action not in (ACTIONS.UPDATE, ACTIONS.DELETE):
            return
        for old in old_objects:
            if old:
                utils.forget_verified(self.request.registry, old["id"])

    def _list_query(self) -> ListQuery:
        query = super()._list_query()
        for field in [f.field for f in query.filters] + [s.field for s in query.sorting]:
            if field.split(".", 1)[0] == PASSWORD_FIELD:
                raise_invalid(
                    self.request,
                    location="querystring",
                    name=field,
                    description=f"Cannot filter or sort on '{field}'",
                )
        if "*" in self.model.parent_id and all(sort.field != "id" for sort in query.sorting):
            # Accounts are each in their own parent, so two of them may share a
            # timestamp: without a last tie-breaker, pages would skip one.
            query.sorting.append(Sort("id", -1))
        return query

    # Every answer goes through here: no hash ever leaves the server.

    def plural_get(self) -> dict[str, Any]:
        return _without_password(super().plural_get())

    def plural_post(self) -> dict[str, Any]:
        return _without_password(super().plural_post())

    def plural_delete(self) -> dict[str, Any]:
        return _without_password(super().plural_delete())

    def get(self) -> dict[str, Any]:
        return _without_password(super().get())

    def put(self) -> dict[str, Any]:
        return _without_password(super().put())

    def patch(self) -> dict[str, Any]:
        return _without_password(super().patch())

    def delete(self) -> dict[str, Any]:
        return _without_password(super().delete())
