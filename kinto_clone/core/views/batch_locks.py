"""The lists a batch will write, locked up front in one order for every batch.

Each write locks the list (resource name, parent id) it changes until its
transaction ends (:meth:`StorageBase.lock_for_write`).  A batch is one
transaction: one writing collection ``c1`` then ``c2`` while another writes
``c2`` then ``c1`` would each wait for the other's lock, and PostgreSQL would
abort one of them (a 503).  Taking every lock the sub-requests will need before
the first one runs, sorted, makes all batches queue in the same order instead.

Only sub-requests routed to a :class:`~kinto_clone.core.resource.Resource` are
known in advance; others (the default bucket's rewriting routes, plugins'
views) still lock as they run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyramid.interfaces import IRoutesMapper
from pyramid.registry import Registry
from pyramid.request import Request

from kinto_clone.core.resource import Resource

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _resources_by_route(registry: Registry) -> dict[str, type[Resource]]:
    """Route name -> resource class, from the Cornice services (computed once)."""
    found = getattr(registry, "_batch_resources_by_route", None)
    if found is None:
        services: Iterable[Any] = getattr(registry, "cornice_services", {}).values()
        found = {
            service.name: service.resource
            for service in services
            if isinstance(getattr(service, "resource", None), type)
        }
        registry._batch_resources_by_route = found
    return found


def written_lists(subrequests: Iterable[Request]) -> list[tuple[str, str]]:
    """``(resource name, parent id)`` of each list the subrequests write, sorted."""
    lists = set()
    # Sub-requests of a batch mostly share a path (25 creations in one list):
    # routed once, and one resource built to name the list.  Routes may depend
    # on the method, parent ids on the user (accounts): both are in the key.
    by_path: dict[tuple[str, str, str | None], tuple[str, str] | None] = {}
    for subrequest in subrequests:
        if subrequest.method in READ_METHODS:
            continue
        environ = subrequest.environ
        path = (subrequest.method, environ.get("PATH_INFO", ""), environ.get("HTTP_AUTHORIZATION"))
        if path not in by_path:
            by_path[path] = _written_list(subrequest)
        written = by_path[path]
        if written is not None:
            lists.add(written)
    return sorted(lists)


def _written_list(subrequest: Request) -> tuple[str, str] | None:
    """``(resource name, parent id)`` of the list a write routed like
    ``subrequest`` changes, if a resource serves it."""
    registry = subrequest.registry
    info = registry.getUtility(IRoutesMapper)(subrequest)
    route = info["route"]
    resource_class = route and _resources_by_route(registry).get(route.name)
    if resource_class is None:
        return None
    subrequest.matchdict = info["match"]
    try:
        parent_id = resource_class(subrequest).get_parent_id()
    except Exception:
        # The sub-request will fail the same way when it runs, and report
        # it in its own slot: there is nothing to lock for it.
        return None
    return resource_class.name, parent_id


def lock_written_lists(request: Request, subrequests: Iterable[Request]) -> None:
    """Lock, in sorted order, every list the ``subrequests`` will write."""
    storage = request.registry.storage
    for resource_name, parent_id in written_lists(subrequests):
        storage.lock_for_write(resource_name, parent_id)
