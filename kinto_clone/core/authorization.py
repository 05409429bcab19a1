"""The one authorization path every resource view goes through.

A request needs a permission on an object URI (``read`` on a record, ``create``
of records on a collection...).  The permissions that grant it are expanded by
``registry.get_bound_permissions(uri, permission)`` (Kinto's inheritance tree is
plugged in by :mod:`kinto_clone.authorization`), then granted either by
``kinto.<resource>_<perm>_principals`` settings or by the permission backend.

On plural endpoints a caller without the list permission still sees the objects
shared with them: :func:`authorize` returns their ids for the resource to filter
on.  Callers who may not read the parent get 403 whether the target exists or
not, so existence never leaks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from pyramid.settings import aslist

Bound = list[tuple[str, str]]
BoundPermissionsFunction = Callable[[str, str], Bound]


def default_bound_permissions(object_uri: str, permission: str) -> Bound:
    """Without an inheritance tree, only ``write`` implies ``read``."""
    bound = [(object_uri, permission)]
    if permission == "read":
        bound.append((object_uri, "write"))
    return bound


@functools.lru_cache(maxsize=256)
def _setting_name(resource_name: str, permission: str) -> str:
    if permission.startswith(f"{resource_name}:"):
        return f"{permission.replace(':', '_')}_principals"
    return f"{resource_name}_{permission}_principals"


def is_granted(
    request: Request, resource_name: str, bound: Bound, fallback_permission: str
) -> bool:
    """True when settings or stored ACEs give any bound permission to the caller."""
    principals = request.prefixed_principals
    granted_by_settings = request.registry.principals_settings
    checked = bound or [(resource_name, fallback_permission)]
    for _, permission in checked:
        allowed = granted_by_settings.get(_setting_name(resource_name, permission))
        if allowed and not allowed.isdisjoint(principals):
            return True
    if not bound:
        return False
    return request.registry.permission.check_permission(principals, bound)


def may_read(request: Request, resource_name: str, object_uri: str) -> bool:
    """True when the caller may read ``object_uri`` (inheritance included).

    On a plural URI (``/buckets/b/collections``) this is the right to list it.
    """
    bound = request.registry.get_bound_permissions(object_uri, "read")
    return is_granted(request, resource_name, bound, "read")


def authorize(
    request: Request,
    resource_name: str,
    object_uri: str,
    permission: str,
    plural_uri: str,
    on_plural: bool,
    object_missing: bool,
) -> list[str] | None:
    """Raise 403 (401 when anonymous) unless the caller may go on.

    Returns ``None`` when the whole list (or the object) is allowed, or the ids
    of the objects shared with the caller when only those may be listed.
    """
    bound_permissions = request.registry.get_bound_permissions
    if permission == "create":
        permission = f"{resource_name}:create"
    bound = bound_permissions(object_uri, permission)
    if is_granted(request, resource_name, bound, permission):
        return None

    parent_of_plural = plural_uri.rsplit("/", 1)[0]
    # A write on a missing object by someone who may read its parent goes on,
    # to get a 404 rather than a misleading 403 (Kinto/kinto#918).
    if not on_plural and object_missing and permission == "write":
        if is_granted(request, resource_name, bound_permissions(plural_uri, "read"), "read"):
            return None
    elif on_plural and not permission.endswith("create"):
        pattern_bound = bound_permissions(f"{plural_uri}/*", permission)
        accessible = request.registry.permission.get_accessible_objects(
            request.prefixed_principals, pattern_bound, with_children=False
        )
        prefix = plural_uri + "/"
        shared = [uri[len(prefix) :] for uri in accessible if uri.startswith(prefix)]
        shared = [object_id for object_id in shared if "/" not in object_id]
        if shared:
            return shared
        create_bound = [(parent_of_plural, f"{resource_name}:create")] if bound else []
        if is_granted(request, resource_name, create_bound, "create"):
            return []
    raise HTTPForbidden()


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    config.registry.principals_settings = {
        name: set(aslist(value or ""))
        for name, value in settings.items()
        if name.endswith("_principals") and not name.startswith("kinto.")
    }
    if not hasattr(config.registry, "get_bound_permissions"):
        config.registry.get_bound_permissions = default_bound_permissions
