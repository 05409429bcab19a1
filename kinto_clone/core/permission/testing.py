"""Behaviour every permission backend must share, as a pytest base class.

Subclass :class:`PermissionContract` and override the ``permission`` fixture to
return the backend under test; the contract flushes it around each test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from kinto_clone.core import transaction
from kinto_clone.core.permission import PermissionBase


class Boom(Exception):
    """Raised inside a transaction to make it roll back."""


class PermissionContract:
    @pytest.fixture
    def permission(self) -> PermissionBase:
        raise NotImplementedError("override the `permission` fixture")

    @pytest.fixture(autouse=True)
    def _flushed(self, permission: PermissionBase) -> Iterator[None]:
        permission.flush()
        yield
        permission.flush()

    # Housekeeping.

    def test_initialize_schema_is_idempotent(self, permission: PermissionBase) -> None:
        permission.initialize_schema()
        permission.initialize_schema()
        permission.add_principal_to_ace("/buckets/a", "read", "alice")
        assert permission.get_object_permission_principals("/buckets/a", "read") == {"alice"}

    def test_initialize_schema_dry_run_returns_a_list(self, permission: PermissionBase) -> None:
        assert isinstance(permission.initialize_schema(dry_run=True), list)

    def test_healthcheck_is_true_when_available(self, permission: PermissionBase) -> None:
        assert permission.healthcheck() is True

    def test_flush_removes_aces_and_memberships(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "read", "alice")
        permission.add_user_principal("alice", "/buckets/a/groups/g")
        permission.flush()
        assert permission.get_object_permissions("/buckets/a") == {}
        assert permission.get_user_principals("alice") == set()

    # User principals.

    def test_add_user_principal(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:a")
        assert permission.get_user_principals("alice") == {"group:a"}

    def test_add_user_principal_twice_keeps_one(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:a")
        permission.add_user_principal("alice", "group:a")
        assert permission.get_user_principals("alice") == {"group:a"}

    def test_user_principals_of_unknown_user_are_empty(self, permission: PermissionBase) -> None:
        assert permission.get_user_principals("nobody") == set()

    def test_user_principals_are_per_user(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:a")
        permission.add_user_principal("bob", "group:b")
        assert permission.get_user_principals("alice") == {"group:a"}
        assert permission.get_user_principals("bob") == {"group:b"}

    def test_remove_user_principal(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:a")
        permission.add_user_principal("alice", "group:b")
        permission.remove_user_principal("alice", "group:a")
        assert permission.get_user_principals("alice") == {"group:b"}

    def test_remove_user_principal_of_unknown_user(self, permission: PermissionBase) -> None:
        permission.remove_user_principal("nobody", "group:a")
        assert permission.get_user_principals("nobody") == set()

    def test_remove_missing_user_principal_keeps_others(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:b")
        permission.remove_user_principal("alice", "group:a")
        assert permission.get_user_principals("alice") == {"group:b"}

    def test_remove_principal_from_every_user(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:a")
        permission.add_user_principal("bob", "group:a")
        permission.add_user_principal("bob", "group:b")
        permission.remove_principal("group:a")
        assert permission.get_user_principals("alice") == set()
        assert permission.get_user_principals("bob") == {"group:b"}

    def test_remove_unknown_principal_changes_nothing(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:a")
        permission.remove_principal("group:unknown")
        assert permission.get_user_principals("alice") == {"group:a"}

    def test_remove_principals_by_pattern(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "/buckets/b/groups/g1")
        permission.add_user_principal("alice", "/buckets/bb/groups/g1")
        permission.add_user_principal("alice", "group:a")
        permission.add_user_principal("bob", "/buckets/b/groups/g2")
        permission.add_user_principal("system.Authenticated", "/buckets/b/groups/all")
        permission.remove_principal("/buckets/b/groups/*")
        assert permission.get_user_principals("alice") == {"/buckets/bb/groups/g1", "group:a"}
        assert permission.get_user_principals("bob") == set()

    def test_remove_principal_pattern_is_anchored(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "/x/buckets/b/groups/g")
        permission.add_user_principal("alice", "/buckets/b/groups_of_friends")
        permission.remove_principal("/buckets/b/groups/*")
        assert permission.get_user_principals("alice") == {
            "/x/buckets/b/groups/g",
            "/buckets/b/groups_of_friends",
        }

    def test_remove_principal_keeps_aces(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "read", "group:a")
        permission.add_user_principal("alice", "group:a")
        permission.remove_principal("group:a")
        assert permission.get_object_permissions("/buckets/a") == {"read": {"group:a"}}

    def test_authenticated_groups_are_given_to_every_user(
        self, permission: PermissionBase
    ) -> None:
        permission.add_user_principal("system.Authenticated", "group:everyone-logged")
        permission.add_user_principal("alice", "group:a")
        assert permission.get_user_principals("alice") == {"group:a", "group:everyone-logged"}
        assert permission.get_user_principals("bob") == {"group:everyone-logged"}

    def test_user_principals_are_a_copy(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:a")
        permission.get_user_principals("alice").add("group:intruder")
        assert permission.get_user_principals("alice") == {"group:a"}

    # Single ACEs.

    def test_add_principal_to_ace(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        assert permission.get_object_permission_principals("/buckets/a", "write") == {"alice"}

    def test_add_principal_to_ace_twice_keeps_one(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        assert permission.get_object_permission_principals("/buckets/a", "write") == {"alice"}

    def test_aces_are_per_object_and_permission(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        permission.add_principal_to_ace("/buckets/b", "read", "bob")
        assert permission.get_object_permission_principals("/buckets/a", "read") == set()
        assert permission.get_object_permission_principals("/buckets/b", "write") == set()
        assert permission.get_object_permission_principals("/buckets/b", "read") == {"bob"}

    def test_remove_principal_from_ace(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        permission.add_principal_to_ace("/buckets/a", "write", "bob")
        permission.remove_principal_from_ace("/buckets/a", "write", "alice")
        assert permission.get_object_permission_principals("/buckets/a", "write") == {"bob"}

    def test_removing_last_principal_empties_the_ace(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        permission.remove_principal_from_ace("/buckets/a", "write", "alice")
        assert permission.get_object_permission_principals("/buckets/a", "write") == set()
        assert permission.get_object_permissions("/buckets/a") == {}

    def test_remove_missing_principal_from_ace(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "bob")
        permission.remove_principal_from_ace("/buckets/a", "write", "alice")
        permission.remove_principal_from_ace("/buckets/unknown", "write", "alice")
        assert permission.get_object_permission_principals("/buckets/a", "write") == {"bob"}

    def test_ace_principals_are_a_copy(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        permission.get_object_permission_principals("/buckets/a", "write").add("mallory")
        assert permission.get_object_permission_principals("/buckets/a", "write") == {"alice"}

    # check_permission() and get_authorized_principals().

    def test_check_permission_for_principal(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        assert permission.check_permission({"alice"}, [("/buckets/a", "write")])

    def test_check_permission_through_group(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:a")
        permission.add_principal_to_ace("/buckets/a", "write", "group:a")
        principals = {"alice"} | permission.get_user_principals("alice")
        assert permission.check_permission(principals, [("/buckets/a", "write")])

    def test_check_permission_with_any_bound_permission(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        bound = [("/buckets/a/collections/c", "read"), ("/buckets/a", "write")]
        assert permission.check_permission({"alice"}, bound)

    def test_check_permission_without_bound_permissions(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        assert not permission.check_permission({"alice"}, [])

    def test_check_permission_for_unknown_principal(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        assert not permission.check_permission({"bob"}, [("/buckets/a", "write")])

    def test_check_permission_on_other_object(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        assert not permission.check_permission({"alice"}, [("/buckets/b", "write")])
        assert not permission.check_permission({"alice"}, [("/buckets/a", "read")])

    def test_authorized_principals_are_a_union(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        permission.add_principal_to_ace("/buckets/a/collections/c", "read", "bob")
        permission.add_principal_to_ace("/buckets/a/collections/c", "write", "carol")
        bound = [("/buckets/a", "write"), ("/buckets/a/collections/c", "read")]
        assert permission.get_authorized_principals(bound) == {"alice", "bob"}

    def test_authorized_principals_of_nothing(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        assert permission.get_authorized_principals([]) == set()

    def test_authorized_principals_are_a_copy(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        permission.get_authorized_principals([("/buckets/a", "write")]).add("mallory")
        assert permission.get_authorized_principals([("/buckets/a", "write")]) == {"alice"}

    # get_accessible_objects().

    def test_accessible_objects_of_principals(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("id1", "write", "user1")
        permission.add_principal_to_ace("id1", "collection:create", "group")
        permission.add_principal_to_ace("id2", "read", "user1")
        permission.add_principal_to_ace("id2", "read", "user2")
        permission.add_principal_to_ace("id3", "write", "user2")
        accessible = permission.get_accessible_objects(["user1", "group"])
        assert accessible == {"id1": {"write", "collection:create"}, "id2": {"read"}}

    def test_accessible_objects_of_nobody(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("id1", "write", "user1")
        assert permission.get_accessible_objects([]) == {}
        assert permission.get_accessible_objects(["user2"]) == {}

    def test_accessible_objects_with_no_bound_permission(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("id1", "write", "user1")
        assert permission.get_accessible_objects(["user1"], []) == {}

    def test_accessible_objects_by_permission(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("id1", "write", "user1")
        permission.add_principal_to_ace("id1", "read", "group")
        permission.add_principal_to_ace("id2", "write", "user1")
        permission.add_principal_to_ace("id3", "read", "user2")
        accessible = permission.get_accessible_objects(["user1", "group"], [("*", "read")])
        assert accessible == {"id1": {"read"}}

    def test_accessible_objects_with_inner_wildcards(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url1/id", "write", "user1")
        permission.add_principal_to_ace("/url2/id", "write", "user1")
        accessible = permission.get_accessible_objects(["user1"], [("*url1*", "write")])
        assert sorted(accessible) == ["/url1/id"]

    def test_accessible_objects_with_children(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "read", "alice")
        permission.add_principal_to_ace("/buckets/a/collections/c", "read", "alice")
        permission.add_principal_to_ace("/buckets", "read", "alice")
        accessible = permission.get_accessible_objects(["alice"], [("/buckets/*", "read")])
        assert sorted(accessible) == ["/buckets/a", "/buckets/a/collections/c"]

    def test_accessible_objects_without_children(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url1/id", "write", "user1")
        permission.add_principal_to_ace("/url1/id/sub", "write", "user1")
        permission.add_principal_to_ace("/a/url1/id", "write", "user1")
        accessible = permission.get_accessible_objects(
            ["user1"], [("/url1/*", "write")], with_children=False
        )
        assert sorted(accessible) == ["/url1/id"]

    def test_accessible_objects_without_children_several_wildcards(
        self, permission: PermissionBase
    ) -> None:
        for uri in (
            "/buckets/a/collections/c",
            "/buckets/b/collections/d",
            "/buckets/a/collections/c/records/r",
            "/buckets/a",
        ):
            permission.add_principal_to_ace(uri, "read", "alice")
        accessible = permission.get_accessible_objects(
            ["alice"], [("/buckets/*/collections/*", "read")], with_children=False
        )
        assert sorted(accessible) == ["/buckets/a/collections/c", "/buckets/b/collections/d"]

    def test_accessible_objects_wildcard_does_not_match_prefix_ids(
        self, permission: PermissionBase
    ) -> None:
        permission.add_principal_to_ace("/buckets/a/collections/c", "read", "alice")
        permission.add_principal_to_ace("/buckets/ab/collections/c", "read", "alice")
        accessible = permission.get_accessible_objects(
            ["alice"], [("/buckets/a/collections/*", "read")], with_children=False
        )
        assert sorted(accessible) == ["/buckets/a/collections/c"]

    def test_accessible_objects_several_bound_permissions(
        self, permission: PermissionBase
    ) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.add_principal_to_ace("/url/a/id/2", "read", "user1")
        permission.add_principal_to_ace("/url/_/id/2", "read", "user1")
        accessible = permission.get_accessible_objects(
            ["user1"], [("/url/a/id/*", "read"), ("/url/a/id/*", "write")]
        )
        assert accessible == {"/url/a/id/1": {"write"}, "/url/a/id/2": {"read"}}

    def test_accessible_objects_exact_and_patterns(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a", "write", "user1")
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.add_principal_to_ace("/url/b/id/1", "write", "user1")
        permission.add_principal_to_ace("/url/a/id/2", "read", "user1")
        permission.add_principal_to_ace("/url/b/id/2", "read", "user1")
        accessible = permission.get_accessible_objects(
            ["user1"],
            [
                ("/url/a", "write"),
                ("/url/a", "read"),
                ("/url/a/id/*", "write"),
                ("/url/a/id/*", "read"),
            ],
        )
        assert sorted(accessible) == ["/url/a", "/url/a/id/1", "/url/a/id/2"]

    def test_accessible_objects_report_only_bound_permissions(
        self, permission: PermissionBase
    ) -> None:
        permission.add_principal_to_ace("/buckets/a", "read", "alice")
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        accessible = permission.get_accessible_objects(["alice"], [("/buckets/*", "read")])
        assert accessible == {"/buckets/a": {"read"}}

    def test_accessible_objects_do_not_expand_groups(self, permission: PermissionBase) -> None:
        permission.add_user_principal("user1", "group")
        permission.add_principal_to_ace("id1", "write", "user1")
        permission.add_principal_to_ace("id2", "write", "group")
        assert sorted(permission.get_accessible_objects(["user1"])) == ["id1"]

    def test_accessible_objects_accept_any_iterable(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("id1", "write", "user1")
        principals = (p for p in ["user1", "user1"])
        bound = ((obj, perm) for obj, perm in [("id*", "write")])
        assert permission.get_accessible_objects(principals, bound) == {"id1": {"write"}}

    def test_accessible_objects_with_escaped_ids(self, permission: PermissionBase) -> None:
        # Kinto's authorization policy ``re.escape``s ids before adding ``*``.
        permission.add_principal_to_ace("/buckets/my-b.x/collections/c", "read", "alice")
        permission.add_principal_to_ace("/buckets/my-bax/collections/c", "read", "alice")
        accessible = permission.get_accessible_objects(
            ["alice"], [(r"/buckets/my\-b\.x/collections/*", "read")], with_children=False
        )
        assert sorted(accessible) == ["/buckets/my-b.x/collections/c"]

    # get_object(s)_permissions().

    def test_object_permissions_lists_every_ace(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.add_principal_to_ace("/url/a/id/1", "write", "user2")
        permission.add_principal_to_ace("/url/a/id/1", "read", "user3")
        permission.add_principal_to_ace("/url/a/id/1", "obj:del", "user1")
        permission.add_principal_to_ace("/url/a/id/1/sub", "create", "me")
        assert permission.get_object_permissions("/url/a/id/1") == {
            "write": {"user1", "user2"},
            "read": {"user3"},
            "obj:del": {"user1"},
        }

    def test_object_permissions_lists_requested_aces(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.add_principal_to_ace("/url/a/id/1", "read", "user3")
        permission.add_principal_to_ace("/url/a/id/1", "create", "user1")
        listed = permission.get_object_permissions("/url/a/id/1", ["write", "read", "other"])
        assert listed == {"write": {"user1"}, "read": {"user3"}}

    def test_objects_permissions_keep_order(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.add_principal_to_ace("/url/a/id/3", "read", "user3")
        listed = permission.get_objects_permissions(["/url/a/id/3", "/abc", "/url/a/id/1"])
        assert listed == [{"read": {"user3"}}, {}, {"write": {"user1"}}]

    def test_objects_permissions_of_no_object(self, permission: PermissionBase) -> None:
        assert permission.get_objects_permissions([]) == []

    def test_object_permissions_of_unknown_object(self, permission: PermissionBase) -> None:
        assert permission.get_object_permissions("abc") == {}

    def test_object_permissions_are_a_copy(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        permission.get_object_permissions("/buckets/a")["write"].add("mallory")
        assert permission.get_object_permissions("/buckets/a") == {"write": {"alice"}}

    # replace_object_permissions().

    def test_replace_object_permissions(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.add_principal_to_ace("/url/a/id/1", "write", "user2")
        permission.add_principal_to_ace("/url/a/id/1", "read", "user3")
        permission.add_principal_to_ace("/url/a/id/1", "update", "user1")
        permission.replace_object_permissions(
            "/url/a/id/1",
            {"write": ["user1"], "read": ["user2"], "update": [], "new": ["user3"]},
        )
        assert permission.get_object_permissions("/url/a/id/1") == {
            "write": {"user1"},
            "read": {"user2"},
            "new": {"user3"},
        }

    def test_replace_keeps_unlisted_permissions(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.add_principal_to_ace("/url/a/id/1", "write", "user2")
        permission.add_principal_to_ace("/url/a/id/1", "read", "user3")
        permission.replace_object_permissions("/url/a/id/1", {"write": ["user1"]})
        assert permission.get_object_permissions("/url/a/id/1") == {
            "write": {"user1"},
            "read": {"user3"},
        }

    def test_replace_on_new_object(self, permission: PermissionBase) -> None:
        permission.replace_object_permissions("/url/a/id/1", {"write": ["user1"]})
        assert permission.get_object_permissions("/url/a/id/1") == {"write": {"user1"}}

    def test_replace_with_nothing(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.replace_object_permissions("/url/a/id/1", {})
        assert permission.get_object_permissions("/url/a/id/1") == {"write": {"user1"}}

    def test_replace_with_duplicates(self, permission: PermissionBase) -> None:
        permission.replace_object_permissions("/url/a/id/1", {"write": ["user1", "user1"]})
        assert permission.get_object_permissions("/url/a/id/1") == {"write": {"user1"}}

    def test_replace_with_empty_list_removes(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.replace_object_permissions("/url/a/id/1", {"write": set()})
        assert permission.get_object_permissions("/url/a/id/1") == {}
        assert permission.get_accessible_objects(["user1"]) == {}

    def test_replace_with_empty_list_on_new_object(self, permission: PermissionBase) -> None:
        permission.replace_object_permissions("/url/a/id/1", {"write": []})
        assert permission.get_object_permissions("/url/a/id/1") == {}

    def test_replace_does_not_touch_other_objects(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/2", "write", "user2")
        permission.replace_object_permissions("/url/a/id/1", {"write": ["user1"]})
        assert permission.get_object_permissions("/url/a/id/2") == {"write": {"user2"}}

    def test_replaced_principals_are_revoked(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.replace_object_permissions("/url/a/id/1", {"write": ["user2"]})
        assert not permission.check_permission({"user1"}, [("/url/a/id/1", "write")])
        assert permission.get_accessible_objects(["user1"]) == {}

    # delete_object_permissions().

    def test_delete_object_permissions(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.add_principal_to_ace("/url/a/id/1", "read", "user3")
        permission.add_principal_to_ace("/url/a/id/2", "create", "user3")
        permission.add_principal_to_ace("/url/a/id/3", "create", "user4")
        permission.delete_object_permissions("/url/a/id/1", "/url/a/id/2")
        assert permission.get_objects_permissions(["/url/a/id/1", "/url/a/id/2"]) == [{}, {}]
        assert permission.get_object_permissions("/url/a/id/3") == {"create": {"user4"}}
        assert permission.get_accessible_objects(["user1", "user3"]) == {}

    def test_delete_nothing(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/a/id/1", "write", "user1")
        permission.delete_object_permissions()
        assert permission.get_object_permissions("/url/a/id/1") == {"write": {"user1"}}

    def test_delete_with_pattern(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/url/b/id/1", "write", "user1")
        permission.add_principal_to_ace("/url/a/id/1", "write", "user2")
        permission.add_principal_to_ace("/url/a/id/3", "create", "user4")
        permission.delete_object_permissions("/url/a*")
        assert permission.get_object_permissions("/url/a/id/1") == {}
        assert permission.get_object_permissions("/url/a/id/3") == {}
        assert permission.get_object_permissions("/url/b/id/1") == {"write": {"user1"}}

    def test_delete_children_pattern_keeps_parent(self, permission: PermissionBase) -> None:
        for uri in ("/buckets/b", "/buckets/b/groups/g", "/buckets/b/collections/c/records/r"):
            permission.add_principal_to_ace(uri, "write", "alice")
        permission.add_principal_to_ace("/buckets/bb/groups/g", "write", "alice")
        permission.delete_object_permissions("/buckets/b/*")
        assert sorted(permission.get_accessible_objects(["alice"])) == [
            "/buckets/b",
            "/buckets/bb/groups/g",
        ]

    def test_delete_keeps_memberships(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "/buckets/b/groups/g")
        permission.add_principal_to_ace("/buckets/b/groups/g", "write", "alice")
        permission.delete_object_permissions("*")
        assert permission.get_user_principals("alice") == {"/buckets/b/groups/g"}
        assert permission.get_object_permissions("/buckets/b/groups/g") == {}

    # Transactions.

    def test_writes_are_visible_inside_their_transaction(self, permission: PermissionBase) -> None:
        with transaction.atomic():
            permission.add_principal_to_ace("/buckets/a", "write", "alice")
            permission.add_user_principal("alice", "group:a")
            assert permission.check_permission({"alice"}, [("/buckets/a", "write")])
            assert permission.get_user_principals("alice") == {"group:a"}
        assert permission.get_object_permissions("/buckets/a") == {"write": {"alice"}}

    def test_failed_transaction_rolls_back_ace_writes(self, permission: PermissionBase) -> None:
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        permission.add_principal_to_ace("/buckets/b", "read", "bob")
        with pytest.raises(Boom), transaction.atomic():
            permission.add_principal_to_ace("/buckets/a", "write", "mallory")
            permission.remove_principal_from_ace("/buckets/a", "write", "alice")
            permission.replace_object_permissions("/buckets/c", {"read": ["mallory"]})
            permission.delete_object_permissions("/buckets/b")
            raise Boom
        assert permission.get_objects_permissions(["/buckets/a", "/buckets/b", "/buckets/c"]) == [
            {"write": {"alice"}},
            {"read": {"bob"}},
            {},
        ]
        assert permission.get_accessible_objects(["mallory"]) == {}
        assert permission.get_accessible_objects(["alice", "bob"]) == {
            "/buckets/a": {"write"},
            "/buckets/b": {"read"},
        }

    def test_failed_transaction_rolls_back_replace(self, permission: PermissionBase) -> None:
        permission.replace_object_permissions("/buckets/a", {"read": ["x", "y"], "write": ["z"]})
        with pytest.raises(Boom), transaction.atomic():
            permission.replace_object_permissions("/buckets/a", {"read": ["y", "w"], "write": []})
            permission.delete_object_permissions("/buckets/*")
            permission.replace_object_permissions("/buckets/a", {"read": ["v"]})
            raise Boom
        assert permission.get_object_permissions("/buckets/a") == {
            "read": {"x", "y"},
            "write": {"z"},
        }

    def test_failed_transaction_rolls_back_memberships(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:a")
        permission.add_user_principal("bob", "group:a")
        with pytest.raises(Boom), transaction.atomic():
            permission.add_user_principal("alice", "group:b")
            permission.remove_user_principal("bob", "group:a")
            permission.remove_principal("group:a")
            permission.remove_principal("group:*")
            permission.add_user_principal("system.Authenticated", "group:all")
            raise Boom
        assert permission.get_user_principals("alice") == {"group:a"}
        assert permission.get_user_principals("bob") == {"group:a"}

    def test_failed_transaction_rolls_back_flush(self, permission: PermissionBase) -> None:
        permission.add_user_principal("alice", "group:a")
        permission.add_principal_to_ace("/buckets/a", "write", "alice")
        with pytest.raises(Boom), transaction.atomic():
            permission.flush()
            permission.add_principal_to_ace("/buckets/z", "write", "zed")
            raise Boom
        assert permission.get_user_principals("alice") == {"group:a"}
        assert permission.get_accessible_objects(["alice", "zed"]) == {"/buckets/a": {"write"}}

    def test_nested_atomic_rolls_back_with_the_outer_one(self, permission: PermissionBase) -> None:
        with pytest.raises(Boom), transaction.atomic():
            with transaction.atomic():
                permission.add_principal_to_ace("/buckets/a", "write", "alice")
            raise Boom
        assert permission.get_object_permissions("/buckets/a") == {}

    def test_uncommitted_writes_are_invisible_to_other_threads(
        self, permission: PermissionBase
    ) -> None:
        seen: list[set[str]] = []

        def read() -> None:
            seen.append(permission.get_object_permission_principals("/buckets/a", "write"))

        reader = threading.Thread(target=read)
        with pytest.raises(Boom), transaction.atomic():
            permission.add_principal_to_ace("/buckets/a", "write", "mallory")
            reader.start()
            # A backend may either block the reader or show it the old state.
            reader.join(timeout=0.2)
            raise Boom
        reader.join(timeout=5)
        assert seen == [set()]

    def test_concurrent_writes_all_land(self, permission: PermissionBase) -> None:
        def write(n: int) -> None:
            for i in range(20):
                permission.add_principal_to_ace(f"/buckets/b{i}", "read", f"user{n}")
                permission.add_user_principal(f"user{n}", f"group{i}")

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        principals = permission.get_authorized_principals([("/buckets/b7", "read")])
        assert principals == {"user0", "user1", "user2", "user3"}
        assert len(permission.get_user_principals("user2")) == 20
