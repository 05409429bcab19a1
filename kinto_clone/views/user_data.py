"""``DELETE /__user_data__/{principal}``: forget a user (always on, as in Kinto 26.5.0).

Only the principals of ``kinto.user-data_delete_principals`` may call it (no
stored ACE can grant it): 401 for anonymous callers, 403 for the others.  For
the given principal it removes:

- every object the principal *owns*, that is holds the only ``write`` ACE of,
  with what is inside it (a bucket's collections, groups and records), leaving
  tombstones and announcing the deletions like any ``DELETE`` would;
- the principal from every ACE of the objects it does not own;
- the principal from every user holding it (when it is a group), and the
  principal's own group memberships.

The answer is ``{"data": {"principal": ...}}``.  Where this differs from Kinto
26.5.0 (whose implementation has these bugs): an owned account
(``/accounts/<id>``) is really deleted (Kinto looks it up under the wrong
parent, drops its ACEs and leaves the account able to log in), and the
memberships of a deleted bucket's groups go with them (Kinto leaves them in
other users' principals).
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from pyramid.settings import asbool

from kinto_clone.core.authorization import is_granted
from kinto_clone.core.events import ACTIONS
from kinto_clone.core.resource import Resource
from kinto_clone.core.service import Service
from kinto_clone.core.storage import COMPARISON, Filter
from kinto_clone.views.permissions import ObjectLookup

RESOURCE_NAME = "user-data"

DESCRIPTION = "Delete the data owned by a user"


def accessible_and_owned(request: Request, principal: str) -> tuple[dict[str, set[str]], set[str]]:
    """``{uri: permissions}`` held by ``principal``, and the URIs it owns (sole writer)."""
    permission = request.registry.permission
    accessible = permission.get_accessible_objects([principal])
    uris = list(accessible)
    writers = permission.get_objects_permissions(uris, ["write"])
    owned = {
        uri for uri, perms in zip(uris, writers, strict=True) if perms.get("write") == {principal}
    }
    return accessible, owned


def outermost(uris: set[str]) -> list[str]:
    """``uris`` without those under another one (deleting a bucket deletes its content)."""
    kept: list[str] = []
    for uri in sorted(uris):
        if not any(uri.startswith(f"{ancestor}/") for ancestor in kept):
            kept.append(uri)
    return kept


def _resource_classes(request: Request) -> dict[str, type[Resource]]:
    """``{resource name: Resource class}`` of every registered object endpoint."""
    classes = {}
    for service in request.registry.cornice_services.values():
        resource = getattr(service, "resource", None)
        if resource is not None and service.name.endswith("-object"):
            classes[resource.name] = resource
    return classes


def _plural_resource(
    request: Request, resource_class: type[Resource], matchdict: dict[str, str]
) -> Resource:
    """The resource of the list holding an object, as if its plural URL was requested.

    Accounts are stored under their own id: their parent is the object id, which
    the plural endpoint cannot know, so it is set from the object's URI.
    """
    parents = {key: value for key, value in matchdict.items() if key != "id"}
    saved = request.matchdict
    request.matchdict = parents
    try:
        resource = resource_class(request)
    finally:
        request.matchdict = saved
    if resource_class.name == "account":
        resource.model.parent_id = matchdict["id"]
    return resource


def delete_owned(request: Request, uris: list[str]) -> list[str]:
    """Delete the owned objects a list at a time, with their cascades and events;
    return the URIs that are no object of a resource (history entries...)."""
    lookup = ObjectLookup(request)
    classes = _resource_classes(request)
    by_list: dict[tuple[str, str], tuple[dict[str, str], list[str]]] = {}
    not_objects = []
    for uri in uris:
        found = lookup(uri)
        if found is None or found[0] not in classes:
            not_objects.append(uri)
            continue
        name, matchdict = found
        key = (name, uri.rsplit("/", 1)[0] if name != "account" else uri)
        by_list.setdefault(key, (matchdict, []))[1].append(matchdict["id"])
    batch_size = request.registry.settings["storage_max_fetch_size"]
    for (name, _), (matchdict, ids) in by_list.items():
        resource = _plural_resource(request, classes[name], matchdict)
        for start in range(0, len(ids), batch_size):
            batch = [Filter("id", ids[start : start + batch_size], COMPARISON.IN)]
            old = resource.model.get_objects(batch, [], [], batch_size, False)
            deleted = resource.model.delete_objects(batch, [], [], batch_size)
            if deleted:
                by_id = {obj["id"]: obj for obj in old}
                resource._notify(ACTIONS.DELETE, deleted, [by_id.get(o["id"]) for o in deleted])
    return not_objects


def delete_user_data(request: Request) -> dict[str, Any]:
    if not is_granted(request, RESOURCE_NAME, [], "delete"):
        raise HTTPForbidden()
    principal = request.matchdict["principal"]
    permission = request.registry.permission
    accessible, owned = accessible_and_owned(request, principal)
    kept = [uri for uri in accessible if uri not in owned]
    kept += delete_owned(request, outermost(owned))
    for uri in kept:
        for perm in accessible[uri]:
            permission.remove_principal_from_ace(uri, perm, principal)
    permission.remove_principal(principal)
    for group in permission.get_user_principals(principal):
        permission.remove_user_principal(principal, group)
    return {"data": {"principal": principal}}


def includeme(config: Configurator) -> None:
    # Both URLs exist (other methods get 405).  As for Kinto's resources,
    # DELETE is a 405 too on a read-only server or with
    # ``kinto.object_user-data_delete_enabled = false``.
    plural = Service(name="user-data-plural", path="/__user_data__", description=DESCRIPTION)
    one = Service(name="user-data", path="/__user_data__/{principal}", description=DESCRIPTION)
    settings = config.get_settings()
    enabled = asbool(settings.get(f"object_{RESOURCE_NAME}_delete_enabled", True))
    if enabled and not settings["readonly"]:
        one.add_view("DELETE", delete_user_data)
    config.add_cornice_service(plural)
    config.add_cornice_service(one)
