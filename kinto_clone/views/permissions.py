"""``GET /permissions``: every object the caller holds a permission on.

Enabled by ``kinto.experimental_permissions_endpoint``, and whenever
``kinto.plugins.admin`` is included (the admin page lists it), as in Kinto
26.5.0 (capability ``permissions_endpoint``).  Entries are ``{uri, resource_name, permissions, id,
<resource>_id, bucket_id?, collection_id?}``, built from one permission backend
query (``get_accessible_objects(principals)``) plus the permissions granted by
``kinto.<resource>_<perm>_principals`` settings (the root ``bucket:create``, or
``write`` on every bucket for a ``bucket_write_principals`` user).

Each entry's permissions are expanded on the object itself only, as in Kinto
26.5.0: a bucket ``write`` lists ``read``, ``read:attributes``,
``collection:create``... on that bucket, but its collections are not listed
unless the caller holds something on them directly.  URIs that are no object
endpoint (history entries) are left out.  The list is filtered, sorted (by
``uri``, descending, by default) and paginated like any other; entries have no
``last_modified``, so timestamp filters are ignored.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.interfaces import IRoutesMapper
from pyramid.request import Request

from kinto_clone.authorization import INHERITANCE
from kinto_clone.core import dotted
from kinto_clone.core.resource import Resource, register
from kinto_clone.core.resource.querystring import ListQuery
from kinto_clone.core.resource.strict import check_known_fields
from kinto_clone.core.storage import Filter, Sort
from kinto_clone.core.storage.filtering import compile_filters, compile_rules, sort_objects

MODIFIED_FIELD = "last_modified"
KNOWN_FIELDS = frozenset(
    {
        "id",
        "uri",
        "resource_name",
        "permissions",
        "bucket_id",
        "collection_id",
        "group_id",
        "record_id",
        "account_id",
        MODIFIED_FIELD,
    }
)
# ``<resource>_create_principals`` grants ``<resource>:create`` on the parent.
CREATE_PARENTS = {
    "bucket": "root",
    "account": "root",
    "collection": "bucket",
    "group": "bucket",
    "record": "collection",
}
_SETTING_RE = re.compile(r"^([a-z]+)_(create|write|read)_principals$")


def expanded_permissions(resource_name: str, permissions: set[str]) -> set[str]:
    """Add what ``permissions`` imply on the same object (``write`` -> ``read``...)."""
    tree = INHERITANCE.get(resource_name)
    result = set(permissions)
    if tree is None:
        if "write" in permissions and resource_name != "root":
            result.add("read")
        return result
    for obtained, granters in tree.items():
        if permissions & set(granters.get(resource_name, ())):
            result.add(obtained)
    return result


class ObjectLookup:
    """Which object endpoint a URI belongs to, by matching the ``*-object`` routes."""

    def __init__(self, request: Request) -> None:
        self.prefix = f"/{request.registry.route_prefix}"
        mapper = request.registry.getUtility(IRoutesMapper)
        self.routes = [
            (route.name[: -len("-object")], route)
            for route in mapper.get_routes()
            if route.name.endswith("-object")
        ]

    @property
    def resource_names(self) -> set[str]:
        return {name for name, _ in self.routes} | {"root"}

    def __call__(self, uri: str) -> tuple[str, dict[str, str]] | None:
        if uri == "/":
            return "root", {}
        for name, route in self.routes:
            matchdict = route.match(self.prefix + uri)
            if matchdict is not None:
                return name, dict(matchdict)
        return None


def allowed_from_settings(
    principals_settings: dict[str, set[str]], principals: list[str], known: set[str]
) -> dict[str, set[str]]:
    """``{resource name: {permissions}}`` that settings grant to ``principals``."""
    granted: dict[str, set[str]] = {}
    for name, allowed in principals_settings.items():
        match = _SETTING_RE.match(name)
        if not match or allowed.isdisjoint(principals):
            continue
        resource_name, permission = match.groups()
        if resource_name not in known:
            continue
        if permission == "create":
            permission = f"{resource_name}:create"
            resource_name = CREATE_PARENTS.get(resource_name, "")
            if not resource_name:
                continue
        granted.setdefault(resource_name, set()).add(permission)
    return granted


def _matcher(filters: list[Filter]) -> Callable[[dict[str, Any]], bool]:
    """Entries have no ``last_modified``: filters on it (``_since``, the resource's
    own bound on the listed timestamp) do not apply."""
    return compile_filters([f for f in filters if f.field != MODIFIED_FIELD], id_field="uri")


class PermissionsModel:
    """The list of entries, computed per request (it is not stored anywhere)."""

    def __init__(self, request: Request) -> None:
        self.request = request

    def timestamp(self) -> int:
        """Entries have no timestamp: answer with the current time (ETag, headers)."""
        return int(time.time() * 1000)

    def _entries(self) -> list[dict[str, Any]]:
        registry = self.request.registry
        principals = self.request.prefixed_principals
        by_uri = {
            uri: set(perms)
            for uri, perms in registry.permission.get_accessible_objects(principals).items()
        }
        lookup = ObjectLookup(self.request)
        granted = allowed_from_settings(
            registry.principals_settings, principals, lookup.resource_names
        )
        if "root" in granted:
            by_uri.setdefault("/", set()).update(granted["root"])
        self._add_settings_grants(by_uri, granted)

        entries = []
        for uri, perms in by_uri.items():
            found = lookup(uri)
            if found is None:
                continue
            resource_name, matchdict = found
            entry: dict[str, Any] = {
                "uri": uri,
                "resource_name": resource_name,
                "permissions": sorted(expanded_permissions(resource_name, perms)),
                **matchdict,
            }
            if "id" in matchdict:
                entry[f"{resource_name}_id"] = matchdict["id"]
            entries.append(entry)
        return entries

    def _add_settings_grants(
        self, by_uri: dict[str, set[str]], granted: dict[str, set[str]]
    ) -> None:
        """Settings grants on buckets, collections and groups apply to each of them."""
        wanted = {"bucket", "collection", "group"} & set(granted)
        if not wanted:
            return
        storage = self.request.registry.storage
        for bucket in storage.list_all("bucket", ""):
            bucket_uri = f"/buckets/{bucket['id']}"
            if "bucket" in wanted:
                by_uri.setdefault(bucket_uri, set()).update(granted["bucket"])
            for child in sorted(wanted - {"bucket"}):
                for obj in storage.list_all(child, bucket_uri):
                    uri = f"{bucket_uri}/{child}s/{obj['id']}"
                    by_uri.setdefault(uri, set()).update(granted[child])

    def get_objects(
        self,
        filters: list[Filter],
        sorting: list[Sort],
        pagination_rules: list[list[Filter]],
        limit: int,
        include_deleted: bool = False,
    ) -> list[dict[str, Any]]:
        matching = _matcher(filters)
        entries = [entry for entry in self._entries() if matching(entry)]
        if pagination_rules:
            after = compile_rules(pagination_rules, id_field="uri")
            entries = [entry for entry in entries if after(entry)]
        return sort_objects(entries, sorting, lambda entry: entry)[:limit]

    def count_objects(self, filters: list[Filter]) -> int:
        matching = _matcher(filters)
        return sum(1 for entry in self._entries() if matching(entry))


class Permissions(Resource):
    name = "permissions"
    plural_path = "/permissions"
    object_path = None
    plural_methods = ("GET",)

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.model = PermissionsModel(request)  # type: ignore[assignment]

    def _list_query(self) -> ListQuery:
        query = super()._list_query()
        check_known_fields(self.request, query, KNOWN_FIELDS)
        # No timestamps here: drop ``_since`` & co. and the implicit sort on
        # ``last_modified``; ``uri`` is unique, so it can be the keyset.
        query.filters = [f for f in query.filters if f.field != MODIFIED_FIELD]
        query.sorting = [s for s in query.sorting if s.field != MODIFIED_FIELD]
        if not any(s.field == "uri" for s in query.sorting):
            query.sorting.append(Sort("uri", -1))
        return query


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    includes = {dotted.canonical_name(name) for name in settings["includes"]}
    admin_enabled = dotted.canonical_name("kinto.plugins.admin") in includes
    if not (admin_enabled or settings["experimental_permissions_endpoint"]):
        return
    register(config, Permissions)
    config.add_api_capability(
        "permissions_endpoint",
        description="The permissions endpoint can be used to list all user objects permissions.",
        url="https://kinto.readthedocs.io/en/latest/configuration/settings.html"
        "#activating-the-permissions-endpoint",
    )
