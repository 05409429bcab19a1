"""The generic resource: HTTP semantics shared by every object type.

A :class:`Resource` subclass names an object type and its two URLs (the plural
endpoint and the object endpoint); :func:`register` turns it into Cornice
services.  Each request instantiates the resource, which authorizes through
:mod:`kinto_clone.core.authorization`, applies preconditions, parses the list
query and delegates storage to its :class:`~kinto_clone.core.resource.model.Model`.
Kinto's buckets, collections, groups and records (:mod:`kinto_clone.views`) are
thin subclasses.
"""

from __future__ import annotations

from typing import Any, ClassVar

import colander
from pyramid import httpexceptions
from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core import authorization
from kinto_clone.core.errors import (
    ERRORS,
    http_error,
    raise_all_invalid,
    raise_invalid,
    request_GET,
)
from kinto_clone.core.events import ACTIONS, notify_resource_event
from kinto_clone.core.prefetch import ReadPlan, prefetch
from kinto_clone.core.resource import body as bodies
from kinto_clone.core.resource import pagination, preconditions
from kinto_clone.core.resource.model import PERMISSIONS_FIELD, Model
from kinto_clone.core.resource.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    PatchError,
    apply_json_patch_to_object,
    merge_patch,
)
from kinto_clone.core.resource.querystring import (
    ListQuery,
    is_valid_client_timestamp,
    parse_fields,
    parse_list_query,
    parse_timestamp,
)
from kinto_clone.core.service import Service
from kinto_clone.core.storage import (
    COMPARISON,
    Filter,
    ObjectKey,
    ObjectNotFoundError,
    UnicityError,
)

__all__ = ["Resource", "register"]

METHOD_PERMISSIONS = {
    "GET": "read",
    "HEAD": "read",
    "POST": "create",
    "DELETE": "write",
    "PATCH": "write",
}


LIST_GROUP_ENVIRON_KEY = "kinto_clone.list_group"

# PostgreSQL indexes an object by parent id, type and id, in at most 2704 bytes:
# longer ids would be a 503 there (Kinto 26.5.0 has no bound).
MAX_ID_LENGTH = 255


class ObjectSchema(colander.MappingSchema):
    """Default ``data`` schema: any JSON object, unknown fields kept."""

    @staticmethod
    def schema_type() -> colander.Mapping:
        return colander.Mapping(unknown="preserve")


def dict_subset(obj: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Projection on (possibly dotted) ``fields``, keeping the nesting."""
    result: dict[str, Any] = {}
    for name in fields:
        if name in obj:
            result[name] = obj[name]
            continue
        head, _, rest = name.partition(".")
        if rest and isinstance(obj.get(head), dict):
            nested = dict_subset(obj[head], [rest])
            if nested:
                result.setdefault(head, {}).update(nested)
    return result


class Resource:
    """Handlers of one object type; subclasses set the class attributes below."""

    name: ClassVar[str]
    plural_path: ClassVar[str]
    object_path: ClassVar[str | None]
    # Subsets offered by read-only resources (history, permissions); ``object_path
    # = None`` declares no object endpoint at all.
    plural_methods: ClassVar[tuple[str, ...]] = ("GET", "POST", "DELETE")
    object_methods: ClassVar[tuple[str, ...]] = ("GET", "PUT", "PATCH", "DELETE")
    permissions: ClassVar[tuple[str, ...]] = ("read", "write")
    schema: ClassVar[type[colander.MappingSchema]] = ObjectSchema
    readonly_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, request: Request) -> None:
        self.request = request
        matchdict = request.matchdict or {}
        self.matchdict = matchdict
        self.on_plural = "id" not in matchdict
        self.object_id: str | None = matchdict.get("id")
        self.plural_uri = self.plural_path.format_map(matchdict)
        registry = request.registry
        self.model = Model(
            storage=registry.storage,
            permission=registry.permission,
            id_generator=registry.id_generators.for_type(self.name),
            resource_name=self.name,
            parent_id=self.get_parent_id(),
            plural_uri=self.plural_uri,
            principals=lambda: request.prefixed_principals,
            current_principal=request.prefixed_userid,
            explicit_permissions=registry.settings["explicit_permissions"],
        )
        self.shared_ids: list[str] | None = None

    # --- Hooks for object types -------------------------------------------------

    def get_parent_id(self) -> str:
        """Storage parent of the objects (``/buckets/b`` for its collections)."""
        return ""

    def check_parents_exist(self) -> None:
        """Raise a 404 naming the first missing parent."""

    def parent_keys(self) -> list[ObjectKey]:
        """Storage keys of the parents :meth:`check_parents_exist` reads, to
        prefetch them with the rest of the request's reads."""
        return []

    def parent_readers_scope(self) -> tuple[str, str] | None:
        """``(resource name, plural uri)`` of the list holding the parent object,
        or ``None`` when nobody may list it.

        Callers who may read that list could see that the parent is missing, so
        a refused request tells them (404 errno 111) rather than answering 403;
        everyone else gets 403 whether the parent exists or not.
        """
        return None

    def process_object(self, new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        """Last chance to validate or complete an object before it is stored."""
        return new

    def resource_data(self) -> dict[str, str]:
        """Ids of the parents, for event payloads (``bucket_id``, ...)."""
        return {}

    def on_changed(
        self,
        action: ACTIONS,
        new_objects: list[dict[str, Any]],
        old_objects: list[dict[str, Any] | None],
    ) -> None:
        """Side effects of a write, in the same transaction (cascades, memberships)."""

    def authorize_replace(self) -> dict[str, Any] | None:
        """What a PUT checks before reading its body: ``write`` on the stored
        object, or ``create`` when there is none, then the parents and the id.

        For endpoints writing an object from beside it (kinto-attachment's
        ``.../attachment``), which must refuse before reading a large body.
        Returns the stored object, if any.
        """
        existing = self._current_object(self.object_id)
        self._authorize("write" if existing is not None else "create")
        self.check_parents_exist()
        self._raise_400_if_invalid_id(self.object_id)
        return existing

    # --- Helpers ---------------------------------------------------------------

    @property
    def object_uri(self) -> str:
        return self.model.object_uri(self.object_id or "")

    def _id_generator_match(self, object_id: Any) -> bool:
        return (
            isinstance(object_id, str)
            and len(object_id) <= MAX_ID_LENGTH
            and self.model.id_generator.match(object_id)
        )

    def _raise_400_if_invalid_id(self, object_id: Any) -> None:
        if not self._id_generator_match(object_id):
            raise_invalid(
                self.request, location="path", name=None, description="Invalid object id"
            )

    def _404_for_object(self) -> httpexceptions.HTTPException:
        details = {"id": self.object_id, "resource_name": self.name}
        return http_error(
            httpexceptions.HTTPNotFound(), errno=ERRORS.INVALID_RESOURCE_ID, details=details
        )

    def _current_object(
        self, object_id: str | None, for_write: bool = False
    ) -> dict[str, Any] | None:
        """The stored object, or ``None``.

        ``for_write`` first makes this transaction the only writer of the list,
        so preconditions checked against the object still hold when the write
        lands: of concurrent requests with the same ``If-Match``, one wins.
        """
        if for_write:
            self.model.lock_for_write()
        if object_id is None or not self._id_generator_match(object_id):
            return None
        try:
            return self.model.get_object(object_id)
        except ObjectNotFoundError:
            return None

    def _prefetch(
        self,
        permission: str,
        with_object: bool = False,
        with_list_timestamp: bool = False,
        object_id: str | None = None,
    ) -> None:
        """Read at once what this request's authorization, parents and object
        (or list timestamp) will need: one round trip where the backends allow.

        On the plural endpoint, ``object_id`` names the object a ``POST`` creates
        (or finds): its permissions are read, and the object itself."""
        request = self.request
        if request.registry.prefetcher is None:
            return
        if permission == "create":
            bound = request.registry.get_bound_permissions(self.plural_uri, f"{self.name}:create")
        else:
            uri = self.plural_uri if self.on_plural else self.object_uri
            bound = request.registry.get_bound_permissions(uri, permission)
        keys = self.parent_keys()
        ace_ids = [uri for uri, _ in bound]
        if object_id is not None:
            ace_ids.append(self.model.object_uri(object_id))
            with_object = True
        else:
            object_id = self.object_id
        if with_object and self._id_generator_match(object_id):
            keys.append((self.name, self.model.parent_id, object_id))
        parent_id = getattr(self.model, "parent_id", None)
        list_timestamp = None
        # Wildcard lists (every user's accounts) take the newest of their groups.
        if with_list_timestamp and parent_id is not None and "*" not in parent_id:
            list_timestamp = (self.name, parent_id)
        plan = ReadPlan(
            user_id=request.prefixed_userid,
            ace_object_ids=ace_ids,
            object_keys=keys,
            list_timestamp=list_timestamp,
        )
        prefetch(request, plan)

    def _existing_for_write(self) -> dict[str, Any] | None:
        """The object a write replaces, read with :meth:`_prefetch`.

        Where the storage checks versions, it is read without the list's lock
        and the write applies only if it is still the version read: the lock
        is held from the write to the commit, not through the request's work.
        Otherwise the lock is taken first (``BEGIN`` and the lock go in the
        same round trip as the reads).  Either way preconditions checked
        against it hold when the write lands: of concurrent requests with the
        same ``If-Match``, one wins.
        """
        model = self.model
        checked = self.object_id is not None and model.checks_versions(self.object_id)
        if not checked:
            model.lock_for_write()
        self._prefetch("write", with_object=True)
        existing = self._current_object(self.object_id)
        if checked:
            model.expect_version(self.object_id, existing and existing["last_modified"])
        return existing

    def _authorize(
        self, permission: str, object_missing: bool = False, uri: str | None = None
    ) -> None:
        # An explicit ``uri`` names one object (POST of an existing id needs
        # ``read`` on that object): no list filtering applies to it.
        on_plural = self.on_plural and uri is None
        if permission == "create":
            uri = self.plural_uri
        try:
            self.shared_ids = authorization.authorize(
                self.request,
                self.name,
                uri or (self.plural_uri if self.on_plural else self.object_uri),
                permission,
                plural_uri=self.plural_uri,
                on_plural=on_plural,
                object_missing=object_missing,
            )
        except httpexceptions.HTTPForbidden:
            scope = self.parent_readers_scope()
            if scope is not None and authorization.may_read(self.request, *scope):
                self.check_parents_exist()
            raise

    def _raise_412_if_modified(self, existing: dict[str, Any] | None) -> None:
        """Preconditions of a write creating or replacing ``existing``; without
        any, the list timestamp they would compare with is not even read."""
        if existing is None and preconditions.conditions(self.request) == (None, None):
            return
        timestamp = existing["last_modified"] if existing else self.model.timestamp()
        preconditions.raise_412_if_modified(self.request, existing, timestamp)

    def cache_expires_seconds(self) -> int | None:
        """How long anonymous readers may cache a read (``None``: not at all).

        As in Kinto, a setting of 0 means no caching, not an expired response.
        """
        expires = self.request.registry.settings.get(f"{self.name}_cache_expires_seconds")
        return int(expires or 0) or None

    def _add_cache_headers(self) -> None:
        response = self.request.response
        expires = None if self.request.prefixed_userid else self.cache_expires_seconds()
        if expires is None:
            # Set as a plain header: WebOb's ``cache_control`` object parses and
            # re-serialises the header on every attribute change.
            response.headers["Cache-Control"] = "no-cache, no-store"
        else:
            response.cache_expires(seconds=expires)

    def _timestamp_headers(self, timestamp: int) -> None:
        preconditions.add_timestamp_headers(self.request.response, timestamp)

    def _notify(
        self,
        action: ACTIONS,
        data: dict[str, Any] | list[dict[str, Any]],
        old: dict[str, Any] | list[dict[str, Any]] | None = None,
    ) -> None:
        new_objects = data if isinstance(data, list) else [data]
        old_objects = old if isinstance(old, list) else [old] * len(new_objects)
        self.on_changed(action, new_objects, old_objects)
        resource_data = {"uri": self.object_uri if not self.on_plural else self.plural_uri}
        resource_data.update(self.resource_data())
        if not self.on_plural and self.object_id:
            resource_data[f"{self.name}_id"] = self.object_id
        notify_resource_event(
            self.request,
            parent_id=self.model.parent_id,
            timestamp=self.model.timestamp(),
            data=data,
            action=action,
            old=old,
            resource_name=self.name,
            resource_data=resource_data,
        )

    def _envelope(self, obj: dict[str, Any]) -> dict[str, Any]:
        data = dict(obj)
        permissions = data.pop(PERMISSIONS_FIELD, None)
        result: dict[str, Any] = {"data": data}
        if permissions is not None:
            result["permissions"] = {perm: sorted(p) for perm, p in permissions.items() if p}
        return result

    def _validate_data(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.schema is ObjectSchema:
            # Accepts any object and keeps every field: colander would only deep
            # copy it, and whatever stores it copies it again.
            return dict(data)
        try:
            return self.schema().deserialize(data)
        except colander.Invalid as error:
            # Every invalid field is listed, as Kinto does (``data.members.0``, ``.1``...).
            problems = sorted(error.asdict().items())
            raise_all_invalid(self.request, ((f"data.{name}", text) for name, text in problems))
        raise AssertionError("unreachable")

    def _new_permissions(
        self, payload: dict[str, Any], existing: dict[str, list[str]] | None, replace_all: bool
    ) -> dict[str, list[str]]:
        """Permissions to store: listed ones replaced; with PUT, unlisted ones emptied."""
        given = {k: v for k, v in (payload.get("permissions") or {}).items() if v is not None}
        if replace_all and given:
            for permission in self.permissions:
                given.setdefault(permission, [])
        return given

    def _keep_client_timestamp(self, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        """A client's ``last_modified`` survives only if it is a newer integer,
        not too far in the future (:data:`MAX_CLIENT_TIMESTAMP`)."""
        value = new.get("last_modified")
        if not is_valid_client_timestamp(value) or (
            old is not None and value <= old["last_modified"]
        ):
            new.pop("last_modified", None)

    def _prepare(
        self, new: dict[str, Any], old: dict[str, Any] | None, permissions: dict[str, list[str]]
    ) -> dict[str, Any]:
        self._keep_client_timestamp(new, old)
        new = self._validate_data(new)
        new = self.process_object(new, old)
        # Checks contributed by plugins (JSON schemas...), after the object's own.
        for validate in self.request.registry.object_validators:
            new = validate(self, new, old)
        if permissions:
            new[PERMISSIONS_FIELD] = permissions
        return new

    # --- Plural endpoint -------------------------------------------------------

    def _list_query(self) -> ListQuery:
        query = parse_list_query(self.request)
        if self.shared_ids is not None:
            query.filters.insert(0, Filter("id", self.shared_ids, COMPARISON.IN))
        return query

    def plural_get(self) -> dict[str, Any]:
        # The list a live request (long-poll, event stream) waits on, once resolved;
        # lists computed per request (``/permissions``) are stored nowhere: none.
        parent_id = getattr(self.model, "parent_id", None)
        if parent_id is not None:
            self.request.environ[LIST_GROUP_ENVIRON_KEY] = (self.name, parent_id)
        self._prefetch("read", with_list_timestamp=True)
        self._authorize("read")
        self.check_parents_exist()
        timestamp = self.model.timestamp()
        self._timestamp_headers(timestamp)
        self._add_cache_headers()
        preconditions.raise_304_if_not_modified(self.request, timestamp)
        preconditions.raise_412_if_modified(self.request, {}, timestamp)
        query = self._list_query()
        headers = self.request.response.headers
        if self.request.method == "HEAD":
            count = self.model.count_objects(query.filters)
            headers["Total-Objects"] = headers["Total-Records"] = str(count)
            return {"data": []}
        rules, offset = pagination.rules_from_token(
            self.request, query.token, query.sorting, "last_modified"
        )
        # Objects written since ``timestamp`` was read are left to the next poll
        # (``_since=<this ETag>``): served now, they would be served twice.
        up_to_etag = Filter("last_modified", timestamp, COMPARISON.MAX)
        objects = self.model.get_objects(
            [*query.filters, up_to_etag],
            query.sorting,
            rules,
            query.limit + 1,
            query.filters_on_timestamp,
        )
        if len(objects) > query.limit:
            objects = objects[: query.limit]
            headers["Next-Page"] = pagination.next_page_url(
                self.request, query.sorting, query.limit, objects[-1], offset + len(objects)
            )
        if query.fields:
            fields = [*query.fields, "id", "last_modified", "deleted"]
            objects = [dict_subset(obj, fields) for obj in objects]
        return {"data": objects}

    def plural_post(self) -> dict[str, Any]:
        payload = bodies.parse_object_body(self.request, self.permissions)
        new = dict(payload.get("data") or {})
        object_id = new.get("id")
        existing = None
        # ``"id": null`` is an invalid id too, as in Kinto (not a request for one).
        if "id" in new:
            self._raise_400_if_invalid_id(object_id)
            self.model.lock_for_write()
            self._prefetch("create", object_id=object_id)
            existing = self._current_object(object_id, for_write=True)
        else:
            # Known now, so that the new object's permissions are read along.
            object_id = self.model.id_generator()
            self._prefetch("create", object_id=object_id)
        if existing is not None:
            self._authorize("read", uri=self.model.object_uri(object_id))
        else:
            self._authorize("create")
        self.check_parents_exist()
        self._raise_412_if_modified(existing)
        if existing is not None:
            obj = self.model.annotate(existing)
            action = ACTIONS.READ
        else:
            permissions = self._new_permissions(payload, None, replace_all=False)
            new = self._prepare(new, None, permissions)
            new.setdefault("id", object_id)
            try:
                obj = self.model.create_object(new)
            except UnicityError as error:
                # Created meanwhile by a concurrent request: answer like a retry would.
                obj = self.model.annotate(error.existing or self.model.get_object(new["id"]))
                action = ACTIONS.READ
            else:
                self.request.response.status_code = 201
                action = ACTIONS.CREATE
        self._timestamp_headers(obj["last_modified"])
        envelope = self._envelope(obj)
        if action is ACTIONS.CREATE:
            self.object_id = obj["id"]
            self.on_plural = False
            self._notify(action, envelope["data"])
            self.on_plural = True
        return envelope

    def plural_delete(self) -> dict[str, Any]:
        self._authorize("write")
        self.check_parents_exist()
        self.model.lock_for_write()
        preconditions.raise_412_if_modified(self.request, {}, self.model.timestamp())
        query = self._list_query()
        rules, offset = pagination.rules_from_token(
            self.request, query.token, query.sorting, "last_modified"
        )
        old = self.model.get_objects(query.filters, query.sorting, rules, query.limit + 1, False)
        deleted = self.model.delete_objects(query.filters, query.sorting, rules, query.limit)
        if deleted:
            by_id = {obj["id"]: obj for obj in old}
            if len(old) > query.limit:
                # The token holds the sort values of the last object as it was:
                # its tombstone lacks the fields of ``_sort``.
                self.request.response.headers["Next-Page"] = pagination.next_page_url(
                    self.request,
                    query.sorting,
                    query.limit,
                    by_id.get(deleted[-1]["id"], deleted[-1]),
                    offset + len(deleted),
                )
            self._timestamp_headers(max(obj["last_modified"] for obj in deleted))
            self._notify(ACTIONS.DELETE, deleted, [by_id.get(obj["id"], {}) for obj in deleted])
        else:
            self._timestamp_headers(self.model.timestamp())
        return {"data": deleted}

    # --- Object endpoint -------------------------------------------------------

    def get(self) -> dict[str, Any]:
        self._prefetch("read", with_object=True)
        self._authorize("read")
        self.check_parents_exist()
        self._raise_400_if_invalid_id(self.object_id)
        preconditions.conditions(self.request)  # a malformed header is a 400, even for a 404
        obj = self._current_object(self.object_id)
        if obj is None:
            raise self._404_for_object()
        self._timestamp_headers(obj["last_modified"])
        self._add_cache_headers()
        preconditions.raise_304_if_not_modified(self.request, obj["last_modified"])
        preconditions.raise_412_if_modified(self.request, obj, obj["last_modified"])
        fields = parse_fields(self.request, request_GET(self.request))
        annotated = self.model.annotate(obj)
        envelope = self._envelope(annotated)
        if fields:
            envelope["data"] = dict_subset(envelope["data"], [*fields, "id", "last_modified"])
        return envelope

    def put(self) -> dict[str, Any]:
        existing = self._existing_for_write()
        if_none_match = preconditions.conditions(self.request)[1]
        if existing is None or if_none_match == preconditions.ANY:
            self._authorize("create")
        else:
            self._authorize("write")
        self.check_parents_exist()
        self._raise_400_if_invalid_id(self.object_id)
        payload = bodies.parse_object_body(self.request, self.permissions)
        self._raise_412_if_modified(existing)
        new = dict(payload["data"]) if "data" in payload else dict(existing or {})
        new.setdefault("id", self.object_id)
        if new["id"] != self.object_id:
            raise_invalid(
                self.request,
                name="id",
                description="Object id does not match existing object",
            )
        permissions = self._new_permissions(payload, None, replace_all=True)
        new = self._prepare(new, existing, permissions)
        if existing is not None:
            obj = self.model.update_object(new)
            action = ACTIONS.UPDATE
        else:
            try:
                obj = self.model.create_object(new)
            except UnicityError:
                obj = self.model.update_object(new)
            self.request.response.status_code = 201
            action = ACTIONS.CREATE
        self._timestamp_headers(obj["last_modified"])
        envelope = self._envelope(obj)
        self._notify(action, envelope["data"], existing)
        return envelope

    def _patch_format(self) -> str:
        content_type = self.request.content_type
        return content_type if content_type in (JSON_PATCH, MERGE_PATCH) else bodies.JSON

    def patch(self) -> dict[str, Any]:
        existing = self._existing_for_write()
        self._authorize("write", object_missing=existing is None)
        self.check_parents_exist()
        self._raise_400_if_invalid_id(self.object_id)
        if existing is None:
            raise self._404_for_object()
        patch_format = self._patch_format()
        payload = bodies.parse_object_body(self.request, self.permissions, patch_format)
        preconditions.raise_412_if_modified(self.request, existing, existing["last_modified"])
        behavior = bodies.response_behavior(self.request)
        if not payload and not isinstance(payload, list):  # ``[]`` is a valid JSON patch
            raise_invalid(
                self.request,
                name="data",
                description="Provide at least one of data or permissions",
            )
        current_permissions = {
            perm: sorted(p)
            for perm, p in self.request.registry.permission.get_object_permissions(
                self.object_uri
            ).items()
        }
        if patch_format == JSON_PATCH:
            try:
                updated, permissions = apply_json_patch_to_object(
                    dict(existing), current_permissions, payload, self.permissions
                )
            except PatchError as error:
                raise_invalid(
                    self.request,
                    location="body",
                    description=f"JSON Patch operation failed: {error}",
                )
            if bodies.nesting_depth(updated, bodies.MAX_DEPTH) > bodies.MAX_DEPTH:
                description = f"JSON nested deeper than {bodies.MAX_DEPTH} levels"
                raise_invalid(self.request, location="body", description=description)
            changes = {k: v for k, v in updated.items() if existing.get(k) != v}
            permissions = {
                perm: permissions.get(perm, []) for perm in {*permissions, *current_permissions}
            }
        elif patch_format == MERGE_PATCH:
            changes = payload.get("data") or {}
            updated = merge_patch(existing, changes)
            merged = merge_patch(current_permissions, payload.get("permissions") or {})
            permissions = {perm: merged.get(perm, []) for perm in self.permissions}
            if not payload.get("permissions"):
                permissions = {}
        else:
            changes = payload.get("data") or {}
            updated = {**existing, **changes}
            permissions = self._new_permissions(payload, None, replace_all=False)

        for field in self.readonly_fields:
            if field in changes and existing.get(field, changes[field]) != changes[field]:
                raise_invalid(self.request, name=field, description=f"Cannot modify {field}")
        updated.setdefault("id", self.object_id)
        if updated["id"] != self.object_id:
            raise_invalid(
                self.request,
                name="id",
                description="Object id does not match existing object",
            )
        new = self._prepare(updated, existing, permissions)
        changed_fields = [k for k in changes if existing.get(k) != new.get(k)]
        obj = self.model.update_object(new)
        self._timestamp_headers(obj["last_modified"])
        envelope = self._envelope(obj)
        if behavior == "light":
            envelope["data"] = {k: obj[k] for k in changed_fields if k in obj}
        elif behavior == "diff":
            envelope["data"] = {
                k: obj[k] for k in changed_fields if k in obj and changes.get(k) != obj[k]
            }
        self._notify(ACTIONS.UPDATE, self._envelope(obj)["data"], existing)
        return envelope

    def delete(self) -> dict[str, Any]:
        existing = self._existing_for_write()
        self._authorize("write", object_missing=existing is None)
        self.check_parents_exist()
        self._raise_400_if_invalid_id(self.object_id)
        preconditions.conditions(self.request)  # a malformed header is a 400, even for a 404
        if existing is None:
            raise self._404_for_object()
        preconditions.raise_412_if_modified(self.request, existing, existing["last_modified"])
        raw = request_GET(self.request).get("last_modified")
        last_modified = None
        if raw is not None:
            requested = parse_timestamp(raw)
            if not is_valid_client_timestamp(requested):
                raise_invalid(
                    self.request,
                    location="querystring",
                    name="last_modified",
                    description="Invalid value for last_modified",
                )
            if requested > existing["last_modified"]:
                last_modified = requested
        try:
            deleted = self.model.delete_object(existing, last_modified=last_modified)
        except ObjectNotFoundError:
            raise self._404_for_object() from None
        self._timestamp_headers(deleted["last_modified"])
        self._notify(ACTIONS.DELETE, deleted, existing)
        return {"data": deleted}


def _view(resource_class: type[Resource], handler: str):
    def view(request: Request) -> dict[str, Any]:
        bodies.check_accept(request)
        return getattr(resource_class(request), handler)()

    view.__name__ = f"{resource_class.name}_{handler}"
    return view


def register(config: Configurator, resource_class: type[Resource]) -> None:
    """Declare the plural and object services of ``resource_class``."""
    settings = config.get_settings()
    readonly = settings["readonly"]
    name = resource_class.name
    endpoints = {
        "plural": (
            resource_class.plural_path,
            {"GET": "plural_get", "POST": "plural_post", "DELETE": "plural_delete"},
        ),
        "object": (
            resource_class.object_path,
            {"GET": "get", "PUT": "put", "PATCH": "patch", "DELETE": "delete"},
        ),
    }
    methods = {"plural": resource_class.plural_methods, "object": resource_class.object_methods}
    for kind, (path, handlers) in endpoints.items():
        if path is None:
            continue
        service = Service(name=f"{name}-{kind}", path=path)
        service.resource = resource_class  # Read by the OpenAPI description.
        for method, handler in handlers.items():
            if method not in methods[kind]:
                continue
            enabled = settings.get(f"{kind}_{name}_{method.lower()}_enabled", True)
            if readonly and method not in ("GET", "HEAD"):
                continue
            if str(enabled).lower() in ("false", "0", "no", "off"):
                continue
            service.add_view(method, _view(resource_class, handler))
        config.add_cornice_service(service)
