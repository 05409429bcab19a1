"""Kinto's inheritance tree, computed once per URI and permission."""

from __future__ import annotations

from kinto_clone.authorization import bound_permissions


def test_each_caller_gets_a_list_of_its_own() -> None:
    uri = "/buckets/b/collections/c/records/r"
    first = bound_permissions(uri, "read")
    expected = list(first)
    first.append(("/elsewhere", "read"))
    first.sort()
    assert bound_permissions(uri, "read") == expected
    assert expected[0] == (uri, "write")
    assert ("/buckets/b", "read") in expected
