"""A request that fails half-way leaves no trace.

Storage, permissions and group memberships are written in one transaction per
request: when anything fails after some writes (a ``ResourceChanged``
subscriber, a backend error in a cascade), the client gets a 500 and every
object, permission, membership, tombstone and timestamp is as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE, BOB, MARY, principal

B = "/v1/buckets/b"
RECORDS = f"{B}/collections/c/records"


def snapshot(app: webtest.TestApp) -> dict[str, Any]:
    """Everything Alice, Bob and Mary can observe, with timestamps and tombstones."""
    state: dict[str, Any] = {}

    def grab(path: str) -> dict[str, Any]:
        response = app.get(path, headers=ALICE, expect_errors=True)
        state[path] = (response.status_int, response.headers.get("ETag"), response.json)
        return response.json

    for bucket in grab("/v1/buckets?_since=0")["data"]:
        if bucket.get("deleted"):
            continue
        bucket_path = f"/v1/buckets/{bucket['id']}"
        grab(bucket_path)
        for plural in ("groups", "collections"):
            for obj in grab(f"{bucket_path}/{plural}?_since=0")["data"]:
                if obj.get("deleted"):
                    continue
                grab(f"{bucket_path}/{plural}/{obj['id']}")
                if plural == "collections":
                    records_path = f"{bucket_path}/collections/{obj['id']}/records"
                    for record in grab(f"{records_path}?_since=0")["data"]:
                        if not record.get("deleted"):
                            grab(f"{records_path}/{record['id']}")
    for name, headers in (("bob", BOB), ("mary", MARY)):
        state[f"principals of {name}"] = app.get("/v1/", headers=headers).json["user"]
        state[f"records {name} sees"] = app.get(RECORDS, headers=headers, expect_errors=True).json
    return state


@pytest.fixture
def exploding(make_app: MakeApp) -> webtest.TestApp:
    """Alice's tree, shared with a group holding Bob; the exploding plugin loaded."""
    app = make_app(**{"kinto.includes": "tests.functional.exploding_plugin"})
    app.put_json(B, {"data": {"explode_on_delete": True}}, headers=ALICE)
    app.put_json(f"{B}/groups/g", {"data": {"members": [principal("bob")]}}, headers=ALICE)
    app.put_json(
        f"{B}/collections/c", {"permissions": {"read": ["/buckets/b/groups/g"]}}, headers=ALICE
    )
    app.put_json(f"{RECORDS}/r", {"data": {"v": 1, "explode_on_delete": True}}, headers=ALICE)
    app.put_json(f"{RECORDS}/gone", {}, headers=ALICE)
    app.delete(f"{RECORDS}/gone", headers=ALICE)
    return app


def assert_fails_without_trace(app: webtest.TestApp, request: Callable[[], Any]) -> None:
    before = snapshot(app)
    response = request()
    assert response.status_int == 500
    assert response.json["errno"] == 999
    assert snapshot(app) == before


def test_failed_record_creation(exploding: webtest.TestApp) -> None:
    body = {"data": {"explode": True}, "permissions": {"read": [principal("mary")]}}
    assert_fails_without_trace(
        exploding,
        lambda: exploding.put_json(f"{RECORDS}/new", body, headers=ALICE, expect_errors=True),
    )
    exploding.get(f"{RECORDS}/new", headers=ALICE, status=404)
    exploding.get(f"{RECORDS}/new", headers=MARY, status=403)


def test_failed_record_post(exploding: webtest.TestApp) -> None:
    assert_fails_without_trace(
        exploding,
        lambda: exploding.post_json(
            RECORDS, {"data": {"explode": True}}, headers=ALICE, expect_errors=True
        ),
    )


def test_failed_record_update_keeps_data_permissions_and_timestamps(
    exploding: webtest.TestApp,
) -> None:
    body = {"data": {"v": 2, "explode": True}, "permissions": {"write": [principal("mary")]}}
    assert_fails_without_trace(
        exploding,
        lambda: exploding.patch_json(f"{RECORDS}/r", body, headers=ALICE, expect_errors=True),
    )
    exploding.patch_json(f"{RECORDS}/r", {"data": {}}, headers=MARY, status=403)


def test_failed_record_delete(exploding: webtest.TestApp) -> None:
    assert_fails_without_trace(
        exploding, lambda: exploding.delete(f"{RECORDS}/r", headers=ALICE, expect_errors=True)
    )


def test_failed_delete_of_all_records(exploding: webtest.TestApp) -> None:
    assert_fails_without_trace(
        exploding, lambda: exploding.delete(RECORDS, headers=ALICE, expect_errors=True)
    )


def test_failed_group_update_keeps_memberships(exploding: webtest.TestApp) -> None:
    body = {"data": {"members": [principal("mary")], "explode": True}}
    assert_fails_without_trace(
        exploding,
        lambda: exploding.put_json(f"{B}/groups/g", body, headers=ALICE, expect_errors=True),
    )
    exploding.get(f"{RECORDS}/r", headers=BOB, status=200)
    exploding.get(f"{RECORDS}/r", headers=MARY, status=403)


def test_failed_bucket_delete_keeps_the_whole_tree(exploding: webtest.TestApp) -> None:
    assert_fails_without_trace(
        exploding, lambda: exploding.delete(B, headers=ALICE, expect_errors=True)
    )
    exploding.get(f"{RECORDS}/r", headers=BOB, status=200)


def test_failed_collection_creation_in_the_default_bucket_creates_no_bucket(
    exploding: webtest.TestApp,
) -> None:
    body = {"data": {"explode": True}}
    path = "/v1/buckets/default/collections/tasks/records"
    assert_fails_without_trace(
        exploding, lambda: exploding.post_json(path, body, headers=ALICE, expect_errors=True)
    )
    # Neither the implicit bucket nor the implicit collection were kept.
    assert [b["id"] for b in exploding.get("/v1/buckets", headers=ALICE).json["data"]] == ["b"]


class BackendFailure(RuntimeError):
    """Stands for a backend error in the middle of a request."""


def break_after(calls: int, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, raising from its ``calls + 1``-th call on."""
    done = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal done
        if done >= calls:
            raise BackendFailure(method.__name__)
        done += 1
        return method(*args, **kwargs)

    return wrapper


@pytest.mark.clone_only
def test_backend_failure_in_a_bucket_delete_cascade(
    tree: webtest.TestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree.put_json(f"{B}/groups/g", {"data": {"members": [principal("bob")]}}, headers=ALICE)
    tree.patch_json(B, {"permissions": {"read": ["/buckets/b/groups/g"]}}, headers=ALICE)
    permission = tree.app.registry.permission
    # The bucket and its children are deleted from storage before memberships go.
    monkeypatch.setattr(
        permission, "remove_principal", break_after(0, permission.remove_principal)
    )
    assert_fails_without_trace(tree, lambda: tree.delete(B, headers=ALICE, expect_errors=True))
    monkeypatch.undo()
    tree.get(f"{RECORDS}/r", headers=BOB, status=200)


@pytest.mark.clone_only
def test_backend_failure_while_storing_permissions(
    tree: webtest.TestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    permission = tree.app.registry.permission
    monkeypatch.setattr(
        permission, "add_principal_to_ace", break_after(0, permission.add_principal_to_ace)
    )
    body = {"data": {"a": 1}, "permissions": {"read": [principal("bob")]}}
    assert_fails_without_trace(
        tree, lambda: tree.put_json(f"{RECORDS}/new", body, headers=ALICE, expect_errors=True)
    )
    monkeypatch.undo()
    tree.get(f"{RECORDS}/new", headers=ALICE, status=404)


@pytest.mark.clone_only
def test_backend_failure_while_adding_the_second_group_member(
    tree: webtest.TestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree.patch_json(B, {"permissions": {"read": ["/buckets/b/groups/friends"]}}, headers=ALICE)
    permission = tree.app.registry.permission
    monkeypatch.setattr(
        permission, "add_user_principal", break_after(1, permission.add_user_principal)
    )
    body = {"data": {"members": [principal("bob"), principal("mary")]}}
    assert_fails_without_trace(
        tree,
        lambda: tree.put_json(f"{B}/groups/friends", body, headers=ALICE, expect_errors=True),
    )
    monkeypatch.undo()
    tree.get(B, headers=BOB, status=403)
    tree.get(B, headers=MARY, status=403)
