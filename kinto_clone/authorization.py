"""Kinto's permission inheritance: which permissions, on which ancestors, grant what.

For a permission on an object, :func:`bound_permissions` lists every
``(uri, permission)`` pair that grants it.  A bucket's ``write`` grants
everything below it; a collection's ``read`` grants its records' ``read``;
``write`` always implies ``read``.  Reading an object's *attributes* is also
granted by the right to create children in it (so a user allowed to create
collections in a bucket can see the bucket).
"""

from __future__ import annotations

import functools

from pyramid.config import Configurator

from kinto_clone.core.authorization import default_bound_permissions

# For each object type and permission: {ancestor type: [permissions on it]}.
INHERITANCE: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "bucket": {
        "write": {"bucket": ("write",)},
        "read": {"bucket": ("write", "read")},
        "read:attributes": {"bucket": ("write", "read", "collection:create", "group:create")},
        "group:create": {"bucket": ("write", "group:create")},
        "collection:create": {"bucket": ("write", "collection:create")},
    },
    "group": {
        "write": {"bucket": ("write",), "group": ("write",)},
        "read": {"bucket": ("write", "read"), "group": ("write", "read")},
    },
    "collection": {
        "write": {"bucket": ("write",), "collection": ("write",)},
        "read": {"bucket": ("write", "read"), "collection": ("write", "read")},
        "read:attributes": {
            "bucket": ("write", "read"),
            "collection": ("write", "read", "record:create"),
        },
        "record:create": {"bucket": ("write",), "collection": ("write", "record:create")},
    },
    "record": {
        "write": {"bucket": ("write",), "collection": ("write",), "record": ("write",)},
        "read": {
            "bucket": ("write", "read"),
            "collection": ("write", "read"),
            "record": ("write", "read"),
        },
    },
}

_TYPE_OF_SEGMENT = {
    "buckets": "bucket",
    "groups": "group",
    "collections": "collection",
    "records": "record",
}


def _ancestors(object_uri: str) -> tuple[str | None, bool, dict[str, str]]:
    """``(object type, is_plural, {type: uri})`` of a Kinto URI.

    A plural URI (``/buckets/b/collections``) stands for its parent object.
    """
    parts = object_uri.split("/")
    plural = len(parts) % 2 == 0
    if plural:
        parts = parts[:-1]
    uris: dict[str, str] = {}
    object_type = None
    for index in range(1, len(parts) - 1, 2):
        object_type = _TYPE_OF_SEGMENT.get(parts[index])
        if object_type is None:
            return None, plural, {}
        uris[object_type] = "/".join(parts[: index + 2])
    return object_type, plural, uris


def bound_permissions(object_uri: str, permission: str) -> list[tuple[str, str]]:
    # A copy: callers own their list.
    return list(_bound_permissions(object_uri, permission))


@functools.lru_cache(maxsize=4096)
def _bound_permissions(object_uri: str, permission: str) -> tuple[tuple[str, str], ...]:
    """Computed once per URI: every request asks for its URI twice (the
    prefetch, then the check), and readers keep asking for the same ones."""
    return tuple(_compute_bound_permissions(object_uri, permission))


def _compute_bound_permissions(object_uri: str, permission: str) -> list[tuple[str, str]]:
    object_type, plural, uris = _ancestors(object_uri)
    if not uris and object_uri.count("/") <= 1:
        return []  # The root (``/buckets``): granted by settings only.
    tree = INHERITANCE.get(object_type or "")
    if tree is None:
        return default_bound_permissions(object_uri, permission)
    key = permission if plural else f"{permission}:attributes"
    granters = tree.get(key) or tree.get(permission)
    if granters is None:
        return [(object_uri, permission)]
    bound = []
    for ancestor_type, permissions in granters.items():
        ancestor_uri = uris[ancestor_type]
        bound.extend((ancestor_uri, granted) for granted in permissions)
    # Nearest objects first: they are the likeliest to grant.
    bound.sort(key=lambda pair: len(pair[0]), reverse=True)
    return bound


def includeme(config: Configurator) -> None:
    config.registry.get_bound_permissions = bound_permissions
