"""``GET /__api__``: a Swagger 2.0 description of the endpoints this server has.

Kinto 26.5.0 serves Swagger 2.0 (not OpenAPI 3), so that is what clients and
tools pointed at a Kinto URL expect.  The document is built from the Cornice
services actually registered on this application (plugins included), on the
first request, then kept on the registry: services cannot change once the app
runs.  Only ``host`` and ``schemes`` depend on the request.

Resource services carry their :class:`~kinto_clone.core.resource.Resource` class
(``service.resource``), whose colander schema describes the ``data`` bodies.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import colander
from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core.authentication import BasicAuthPolicy
from kinto_clone.core.service import Service

openapi = Service(name="openapi", path="/__api__", description="OpenAPI description")

SWAGGER_VERSION = "2.0"
ERROR_REF = {"$ref": "#/definitions/Error"}
TIMESTAMP_PATTERN = r'^"([0-9]+?)"$|\*'
MAX_TIMESTAMP = 2**63 - 1

# Core endpoints anyone may call (no credentials involved), and their operation
# ids as Kinto names them.
UTILITIES = {
    "hello": "server_info",
    "heartbeat": "__heartbeat__",
    "lbheartbeat": "__lbheartbeat__",
    "version": "__version__",
    "contribute": "contribute",
    "openapi": "get_openapi_spec",
}
PUBLIC_SERVICES = {*UTILITIES, "batch", "flush", "counters"}

DOCUMENTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "errno", "error"],
    "properties": {
        "code": {"type": "integer"},
        "errno": {"type": "integer"},
        "error": {"type": "string"},
        "message": {"type": "string"},
        "info": {"type": "string"},
        "details": {},
    },
}

ERROR_RESPONSES = {
    "400": "The request is invalid.",
    "401": "The request is missing authentication headers.",
    "403": "The user is not allowed to perform the operation, or the resource is not accessible.",
    "406": "The client doesn't accept supported responses Content-Type.",
    "412": "Object was changed or deleted since value in `If-Match` header.",
    "default": "Unexpected error.",
}

TIMESTAMP_HEADERS = {
    "ETag": {"type": "string", "pattern": TIMESTAMP_PATTERN},
    "Last-Modified": {"type": "string"},
}


def _timestamp_param(name: str, location: str = "query") -> dict[str, Any]:
    return {
        "name": name,
        "in": location,
        "required": False,
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_TIMESTAMP,
    }


LIST_PARAMETERS: list[dict[str, Any]] = [
    {"name": "_limit", "in": "query", "required": False, "type": "integer", "minimum": 0},
    {
        "name": "_sort",
        "in": "query",
        "required": False,
        "type": "array",
        "items": {"type": "string"},
        "collectionFormat": "csv",
    },
    {"name": "_token", "in": "query", "required": False, "type": "string"},
    _timestamp_param("_since"),
    _timestamp_param("_to"),
    _timestamp_param("_before"),
    {"name": "id", "in": "query", "required": False, "type": "string"},
    _timestamp_param("last_modified"),
]
FIELDS_PARAMETER = {
    "name": "_fields",
    "in": "query",
    "required": False,
    "type": "array",
    "items": {"type": "string"},
    "collectionFormat": "csv",
}
PRECONDITION_PARAMETERS = [
    {
        "name": header,
        "in": "header",
        "required": False,
        "type": "string",
        "pattern": TIMESTAMP_PATTERN,
    }
    for header in ("If-Match", "If-None-Match")
]
RESPONSE_BEHAVIOR_PARAMETER = {
    "name": "Response-Behavior",
    "in": "header",
    "required": False,
    "type": "string",
    "enum": ["full", "light", "diff"],
}


# --- colander to JSON schema ------------------------------------------------------


def schema_of_node(node: colander.SchemaNode) -> dict[str, Any]:
    """The JSON schema of a colander node (the types Kinto's schemas use)."""
    typ = node.typ
    result: dict[str, Any]
    if isinstance(typ, colander.Mapping):
        result = {"type": "object"}
        properties = {child.name: schema_of_node(child) for child in node.children}
        if properties:
            result["properties"] = properties
        required = [child.name for child in node.children if child.required]
        if required:
            result["required"] = required
        if typ.unknown == "preserve":
            result["additionalProperties"] = {}
        return result
    if isinstance(typ, colander.Sequence):
        items = schema_of_node(node.children[0]) if node.children else {}
        return {"type": "array", "items": items}
    if isinstance(typ, colander.Boolean):
        return {"type": "boolean"}
    if isinstance(typ, colander.Integer):
        return {"type": "integer"}
    if isinstance(typ, colander.Number):
        return {"type": "number"}
    if isinstance(typ, colander.String):
        return {"type": "string"}
    return {}


# --- Operations ---------------------------------------------------------------------


def _plural(name: str) -> str:
    """``bucket`` -> ``buckets``; mass nouns (``history``) and plurals stay."""
    return name if name.endswith(("s", "y")) else f"{name}s"


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "type": "string"}
        for name in _PLACEHOLDER.findall(path)
    ]


def _errors(*codes: str) -> dict[str, Any]:
    responses = {
        code: {"description": description, "schema": ERROR_REF}
        for code, description in ERROR_RESPONSES.items()
    }
    extra = {
        "404": "The object does not exist or was deleted.",
        "415": "The client sent an unsupported Content-Type.",
    }
    for code in codes:
        responses[code] = {"description": extra[code], "schema": ERROR_REF}
    return responses


def _body_parameter(resource: Any) -> dict[str, Any]:
    data = schema_of_node(resource.schema())
    data.setdefault("additionalProperties", {})
    permissions = {
        "type": "object",
        "properties": {
            perm: {"type": "array", "items": {"type": "string"}} for perm in resource.permissions
        },
    }
    return {
        "name": "body",
        "in": "body",
        "required": True,
        "schema": {"type": "object", "properties": {"data": data, "permissions": permissions}},
    }


def _resource_operation(resource: Any, kind: str, method: str) -> dict[str, Any]:
    """One operation of a resource's plural or object endpoint."""
    name = resource.name
    data = schema_of_node(resource.schema())
    data.setdefault("additionalProperties", {})
    # What a client must send is not what it reads back: an account's password
    # is required in requests and never echoed, and ``Response-Behavior: light``
    # or ``_fields`` leave fields out.
    answered = {key: value for key, value in data.items() if key != "required"}
    object_body = {
        "type": "object",
        "properties": {"data": answered, "permissions": {"type": "object"}},
    }
    list_body = {"type": "object", "properties": {"data": {"type": "array", "items": answered}}}
    ok = {"description": "Success.", "headers": TIMESTAMP_HEADERS}
    not_modified = {
        "description": "Not modified since the value of the If-None-Match header.",
        "headers": TIMESTAMP_HEADERS,
    }
    operation: dict[str, Any] = {"tags": [_plural(name).capitalize()]}
    parameters: list[dict[str, Any]] = []
    if kind == "plural":
        if method == "GET":
            operation["operationId"] = f"get_{_plural(name)}"
            parameters = [*LIST_PARAMETERS, FIELDS_PARAMETER]
            responses = {**_errors(), "200": {**ok, "schema": list_body}, "304": not_modified}
        elif method == "POST":
            operation["operationId"] = f"create_{name}"
            parameters = [_body_parameter(resource)]
            responses = {
                **_errors("415"),
                "200": {"description": "The object already exists.", "schema": object_body},
                "201": {"description": "The object was created.", "schema": object_body},
            }
        else:
            operation["operationId"] = f"delete_{_plural(name)}"
            parameters = list(LIST_PARAMETERS)
            responses = {**_errors(), "200": {**ok, "schema": list_body}}
    else:
        operation["operationId"] = {
            "GET": f"get_{name}",
            "PUT": f"update_{name}",
            "PATCH": f"patch_{name}",
            "DELETE": f"delete_{name}",
        }[method]
        if method == "GET":
            parameters = [FIELDS_PARAMETER]
            responses = {
                **_errors("404"),
                "200": {**ok, "schema": object_body},
                "304": not_modified,
            }
        elif method == "PUT":
            parameters = [_body_parameter(resource)]
            responses = {
                **_errors("415"),
                "200": {"description": "The object was replaced.", "schema": object_body},
                "201": {"description": "The object was created.", "schema": object_body},
            }
        elif method == "PATCH":
            parameters = [RESPONSE_BEHAVIOR_PARAMETER, _body_parameter(resource)]
            responses = {**_errors("404", "415"), "200": {**ok, "schema": object_body}}
            operation["consumes"] = [
                "application/json",
                "application/merge-patch+json",
                "application/json-patch+json",
            ]
        else:
            responses = {**_errors("404"), "200": {**ok, "schema": object_body}}
    if method in ("POST", "PUT"):
        operation["consumes"] = ["application/json"]
    operation["parameters"] = [*parameters, *PRECONDITION_PARAMETERS]
    operation["responses"] = responses
    return operation


def _service_operation(service: Any, method: str) -> dict[str, Any]:
    """An operation of a plain (non-resource) service."""
    name = service.name
    if name in UTILITIES:
        tag, operation_id = "Utilities", UTILITIES[name]
    else:
        tag = name.capitalize()
        verb = {"POST": "create", "PUT": "update"}.get(method, method.lower())
        operation_id = name if name == "batch" else f"{verb}_{name}"
    operation: dict[str, Any] = {
        "tags": [tag],
        "operationId": operation_id,
        "responses": {
            "200": {"description": service.description or "Success."},
            "default": {"description": ERROR_RESPONSES["default"], "schema": ERROR_REF},
        },
    }
    if service.description:
        operation["summary"] = service.description
    if method in ("POST", "PUT", "PATCH") and name != "flush":
        operation["consumes"] = ["application/json"]
        operation["parameters"] = [
            {"name": "body", "in": "body", "required": True, "schema": {"type": "object"}}
        ]
    return operation


def _security_definitions(request: Request) -> dict[str, dict[str, Any]]:
    """One entry per configured policy that takes Basic credentials (or says how)."""
    definitions = {}
    for name, policy in request.registry.authentication.policies:
        definition = getattr(policy, "openapi_security", None)
        if definition is None and isinstance(policy, BasicAuthPolicy):
            definition = {"type": "basic"}
        if definition is not None:
            definitions[name] = dict(definition)
    return definitions


def build_document(request: Request) -> dict[str, Any]:
    """The request-independent part of the description."""
    registry = request.registry
    prefix = f"/{registry.route_prefix}"
    security_definitions = _security_definitions(request)
    security = [{name: []} for name in security_definitions]
    paths: dict[str, dict[str, Any]] = {}
    tags: list[str] = []
    services = sorted(registry.cornice_services.values(), key=lambda s: s.path or "")
    for service in services:
        if not service.path:
            continue
        path = _PLACEHOLDER.sub(r"{\1}", service.path)
        resource = getattr(service, "resource", None)
        item: dict[str, Any] = {}
        for method in DOCUMENTED_METHODS:
            if method not in service.defined_methods:
                continue
            if resource is not None:
                kind = "plural" if service.name.endswith("-plural") else "object"
                operation = _resource_operation(resource, kind, method)
            else:
                operation = _service_operation(service, method)
            operation["produces"] = ["application/json"]
            operation["security"] = [] if service.name in PUBLIC_SERVICES else security
            item[method.lower()] = operation
            tags.extend(tag for tag in operation["tags"] if tag not in tags)
        if not item:
            continue
        path_parameters = _path_parameters(service.path)
        if path_parameters:
            item["parameters"] = path_parameters
        paths[path] = item
    return {
        "swagger": SWAGGER_VERSION,
        "info": {
            "title": registry.settings["project_name"],
            "version": registry.http_api_version,
        },
        "basePath": prefix,
        "securityDefinitions": security_definitions,
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "definitions": {"Error": ERROR_SCHEMA},
    }


@openapi.get()
def get_openapi(request: Request) -> dict[str, Any]:
    registry = request.registry
    document = getattr(registry, "openapi_document", None)
    if document is None:
        document = build_document(request)
        registry.openapi_document = document
    scheme = registry.settings["http_scheme"] or request.scheme
    return {
        "host": registry.settings["http_host"] or request.host,
        "schemes": [scheme],
        **copy.deepcopy(document),
    }


def includeme(config: Configurator) -> None:
    config.add_cornice_service(openapi)
