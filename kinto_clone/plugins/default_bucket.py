"""The personal ``default`` bucket (``kinto.plugins.default_bucket``).

``/buckets/default/...`` is an alias of a bucket whose id is derived from the
user id (an HMAC with ``kinto.default_bucket_hmac_secret``, shaped as a UUID), so
each user finds the same bucket from any device without knowing its id.  The
bucket and the collection named in the URL are created on first use, then the
request is re-dispatched on the real URL within the same transaction.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

from pyramid import httpexceptions
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from kinto_clone.core.authentication import hmac_digest
from kinto_clone.core.errors import raise_invalid
from kinto_clone.core.events import ACTIONS, notify_resource_event
from kinto_clone.core.prefetch import ReadPlan, prefetch
from kinto_clone.core.resource.model import Model
from kinto_clone.core.storage import ObjectNotFoundError, UnicityError


def default_bucket_id(request: Request) -> str:
    secret = request.registry.settings["default_bucket_hmac_secret"]
    return _bucket_id(secret, request.prefixed_userid)


@functools.lru_cache(maxsize=1024)
def _bucket_id(secret: str, userid: str) -> str:
    """Derived once per user, not on each of their requests."""
    return str(uuid.UUID(hmac_digest(secret, userid)[:32]))


def _create_if_missing(
    request: Request,
    resource_name: str,
    parent_id: str,
    plural_uri: str,
    object_id: str,
    payload: dict[str, str],
) -> None:
    created = request.environ.setdefault("kinto_clone.default_bucket.created", set())
    uri = f"{plural_uri}/{object_id}"
    if uri in created:
        return
    created.add(uri)
    registry = request.registry
    model = Model(
        storage=registry.storage,
        permission=registry.permission,
        id_generator=registry.id_generators.for_type(resource_name),
        resource_name=resource_name,
        parent_id=parent_id,
        plural_uri=plural_uri,
        principals=request.prefixed_principals,
        current_principal=request.prefixed_userid,
        explicit_permissions=registry.settings["explicit_permissions"],
    )
    # Look before creating: a create takes the write lock of the whole list of
    # buckets (or collections) until commit, which would serialize every
    # request of every user on it.
    try:
        model.get_object(object_id)
    except ObjectNotFoundError:
        pass
    else:
        return
    try:
        obj = model.create_object({"id": object_id})
    except UnicityError:
        return
    obj.pop(model.permissions_field, None)
    notify_resource_event(
        request,
        parent_id=parent_id,
        timestamp=obj["last_modified"],
        data=obj,
        action=ACTIONS.CREATE,
        resource_name=resource_name,
        resource_data={"uri": uri, **payload, f"{resource_name}_id": object_id},
    )


def _rewritten_body(request: Request, bucket_id: str) -> bytes:
    """A body naming the bucket itself ``default`` gets its real id.

    Only ``data.id == "default"`` is rewritten (Kinto replaces the substring, so
    an id like ``default-1`` would be mangled).
    """
    raw = request.body
    try:
        body = json.loads(raw)
        if body["data"]["id"] != "default":
            return raw
        body["data"]["id"] = bucket_id
    except (ValueError, KeyError, TypeError):
        return raw
    return json.dumps(body).encode("utf-8")


def default_bucket(request: Request) -> Response:
    if request.method == "OPTIONS":
        path = request.path.replace("/buckets/default", "/buckets/unknown", 1)
        return request.invoke_subrequest(
            _subrequest(request, path, request.body), use_tweens=False
        )
    if request.prefixed_userid is None:
        raise httpexceptions.HTTPForbidden()
    bucket_id = request.default_bucket_id
    bucket_uri = f"/buckets/{bucket_id}"
    subpath = request.matchdict.get("subpath", "")
    is_bucket_put = request.method == "PUT" and not subpath
    parts = subpath.strip("/").split("/")
    collection_id = None
    if len(parts) >= 2 and parts[0] == "collections" and parts[1]:
        generator = request.registry.id_generators.for_type("collection")
        if not generator.match(parts[1]):
            raise_invalid(request, location="path", description="Invalid collection id")
        collection_id = parts[1]
    # The user's groups and both objects to create if missing, in one statement.
    keys = [("bucket", "", bucket_id)]
    if collection_id is not None:
        keys.append(("collection", bucket_uri, collection_id))
    prefetch(request, ReadPlan(user_id=request.prefixed_userid, object_keys=keys))
    if not is_bucket_put:
        _create_if_missing(request, "bucket", "", "/buckets", bucket_id, {})
    if collection_id is not None:
        is_collection_put = request.method == "PUT" and len(parts) == 2
        if not is_collection_put:
            _create_if_missing(
                request,
                "collection",
                bucket_uri,
                f"{bucket_uri}/collections",
                collection_id,
                {"bucket_id": bucket_id},
            )
    prefix = f"/{request.registry.route_prefix}"
    path = f"{prefix}{bucket_uri}" + (f"/{subpath}" if subpath else "")
    body = None if subpath else _rewritten_body(request, bucket_id)
    return request.invoke_subrequest(_subrequest(request, path, body), use_tweens=False)


# WebOb reads these two as ``Content-Length`` and ``Content-Type``: never
# copied (the length is the new body's, the type is ``CONTENT_TYPE``).
_NOT_HEADERS = frozenset({"HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"})


def _subrequest(request: Request, path: str, body: bytes | None) -> Request:
    """The request on the real URL; ``body=None`` hands the body stream on
    unread, so an upload (an attachment) is never held in memory here."""
    if body is None:
        subrequest = _subrequest(request, path, b"")
        subrequest.environ["wsgi.input"] = request.environ["wsgi.input"]
        subrequest.environ["webob.is_body_seekable"] = request.is_body_seekable
        subrequest.content_length = request.content_length
        return subrequest
    query = request.query_string
    subrequest = type(request).blank(
        path + (f"?{query}" if query else ""),
        base_url=request.application_url,
        method=request.method,
        POST=body if body else None,
    )
    # The request's headers, straight from its environ (WebOb's header view
    # renames every key twice); the body may have been rewritten: its length
    # is the new one.
    subrequest.environ.update(
        (key, value)
        for key, value in request.environ.items()
        if (key.startswith("HTTP_") and key not in _NOT_HEADERS) or key == "CONTENT_TYPE"
    )
    if not body:
        subrequest.body = b""
    subrequest.registry = request.registry
    subrequest.parent = request
    return subrequest


def add_bucket_to_hello(request: Request, user: dict[str, Any]) -> None:
    user["bucket"] = request.default_bucket_id


def includeme(config: Configurator) -> None:
    config.add_request_method(default_bucket_id, reify=True)
    config.registry.hello_user_hooks.append(add_bucket_to_hello)
    config.add_route("default_bucket_collection", "/buckets/default/{subpath:.*}")
    config.add_route("default_bucket", "/buckets/default")
    config.add_view(default_bucket, route_name="default_bucket")
    config.add_view(default_bucket, route_name="default_bucket_collection")
    config.add_api_capability(
        "default_bucket",
        description="The default bucket is an alias for a personal bucket where "
        "collections are created implicitly.",
        url="https://kinto.readthedocs.io/en/latest/api/1.x/buckets.html#personal-bucket-default",
    )
