"""``GET /v1/__api__``: the Swagger 2.0 description of the running server."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

from tests.plugins.conftest import ACCOUNTS_SETTINGS, MakeApp

# The parts of the Swagger 2.0 specification a client relies on, as a schema
# (checked with the project's own validator).
_STRINGS = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
_PRIMITIVE = {"enum": ["string", "number", "integer", "boolean", "array"]}
SWAGGER_2 = {
    "definitions": {
        "schema": {"type": "object"},
        "parameter": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["name", "in", "schema"],
                    "properties": {"in": {"const": "body"}, "schema": {"type": "object"}},
                    "additionalProperties": {"not": {}},
                    "patternProperties": {"^(name|required|description)$": {}},
                },
                {
                    "type": "object",
                    "required": ["name", "in", "type"],
                    "properties": {
                        "in": {"enum": ["query", "header", "path", "formData"]},
                        "type": _PRIMITIVE,
                        "collectionFormat": {"enum": ["csv", "ssv", "tsv", "pipes", "multi"]},
                    },
                    "not": {"required": ["schema"]},
                },
            ]
        },
        "operation": {
            "type": "object",
            "required": ["responses", "operationId", "tags"],
            "properties": {
                "tags": _STRINGS,
                "produces": _STRINGS,
                "consumes": _STRINGS,
                "parameters": {
                    "type": "array",
                    "items": {"$ref": "#/definitions/parameter"},
                    "uniqueItems": True,
                },
                "security": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": _STRINGS},
                },
                "responses": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": False,
                    "patternProperties": {
                        "^([0-9]{3}|default)$": {
                            "type": "object",
                            "required": ["description"],
                            "properties": {
                                "description": {"type": "string"},
                                "schema": {"$ref": "#/definitions/schema"},
                                "headers": {
                                    "type": "object",
                                    "additionalProperties": {
                                        "type": "object",
                                        "required": ["type"],
                                        "properties": {"type": _PRIMITIVE},
                                    },
                                },
                            },
                            "additionalProperties": False,
                        }
                    },
                },
            },
            "propertyNames": {
                "enum": [
                    "tags",
                    "summary",
                    "description",
                    "operationId",
                    "produces",
                    "consumes",
                    "parameters",
                    "responses",
                    "schemes",
                    "deprecated",
                    "security",
                ]
            },
        },
    },
    "type": "object",
    "required": ["swagger", "info", "paths"],
    "properties": {
        "swagger": {"const": "2.0"},
        "info": {"type": "object", "required": ["title", "version"]},
        "host": {"type": "string", "pattern": r"^[^{}/ :\\]+(?::\d+)?$"},
        "basePath": {"type": "string", "pattern": "^/"},
        "schemes": {"type": "array", "items": {"enum": ["http", "https", "ws", "wss"]}},
        "tags": {"type": "array", "items": {"type": "object", "required": ["name"]}},
        "securityDefinitions": {
            "type": "object",
            "additionalProperties": {"type": "object", "required": ["type"]},
        },
        "definitions": {"type": "object", "additionalProperties": {"type": "object"}},
        "paths": {
            "type": "object",
            "propertyNames": {"pattern": "^/"},
            "additionalProperties": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {
                    "enum": [
                        "get",
                        "put",
                        "post",
                        "delete",
                        "options",
                        "head",
                        "patch",
                        "parameters",
                    ]
                },
                "properties": {
                    "parameters": {"type": "array", "items": {"$ref": "#/definitions/parameter"}},
                    **{
                        method: {"$ref": "#/definitions/operation"}
                        for method in ("get", "put", "post", "delete", "patch")
                    },
                },
            },
        },
    },
    "additionalProperties": False,
}

ALL_PLUGINS = {
    **ACCOUNTS_SETTINGS,
    "kinto.includes": "kinto.plugins.default_bucket kinto.plugins.accounts "
    "kinto.plugins.history kinto.plugins.flush",
    "kinto.experimental_permissions_endpoint": "true",
}


@pytest.fixture
def document(make_app: MakeApp) -> dict[str, Any]:
    return make_app(ALL_PLUGINS).get("/v1/__api__").json


def operations(document: dict[str, Any]):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def test_document_is_valid_swagger_2(document: dict[str, Any]) -> None:
    jsonschema.Draft7Validator.check_schema(SWAGGER_2)
    jsonschema.Draft7Validator(SWAGGER_2).validate(document)
    assert document["swagger"] == "2.0"
    assert document["info"] == {"title": "kinto", "version": "1.23"}
    assert document["basePath"] == "/v1"
    assert document["host"] == "localhost:80"
    assert document["schemes"] == ["http"]


def test_every_registered_endpoint_is_described(document: dict[str, Any]) -> None:
    expected = {
        "/": ["get"],
        "/__api__": ["get"],
        "/__heartbeat__": ["get"],
        "/__lbheartbeat__": ["get"],
        "/__version__": ["get"],
        "/contribute.json": ["get"],
        "/batch": ["post"],
        "/__flush__": ["post"],
        "/accounts": ["get", "post", "delete"],
        "/accounts/{id}": ["get", "put", "patch", "delete"],
        "/buckets": ["get", "post", "delete"],
        "/buckets/{id}": ["get", "put", "patch", "delete"],
        "/buckets/{bucket_id}/collections": ["get", "post", "delete"],
        "/buckets/{bucket_id}/collections/{id}": ["get", "put", "patch", "delete"],
        "/buckets/{bucket_id}/groups": ["get", "post", "delete"],
        "/buckets/{bucket_id}/groups/{id}": ["get", "put", "patch", "delete"],
        "/buckets/{bucket_id}/collections/{collection_id}/records": ["get", "post", "delete"],
        "/buckets/{bucket_id}/collections/{collection_id}/records/{id}": [
            "get",
            "put",
            "patch",
            "delete",
        ],
        "/buckets/{bucket_id}/history": ["get", "delete"],
        "/buckets/{bucket_id}/snapshot/collections/{collection_id}@{timestamp}": ["get"],
        "/permissions": ["get"],
        # Always on, as in Kinto.
        "/__user_data__/{principal}": ["delete"],
    }
    described = {
        path: [method for method in item if method != "parameters"]
        for path, item in document["paths"].items()
    }
    assert {path: sorted(methods) for path, methods in described.items()} == {
        path: sorted(methods) for path, methods in expected.items()
    }


def test_path_parameters_are_declared(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        names = re.findall(r"\{(\w+)\}", path)
        declared = [p["name"] for p in item.get("parameters", []) if p["in"] == "path"]
        assert declared == names, path


def test_operation_ids_are_unique_and_kinto_like(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert {"get_buckets", "create_bucket", "patch_record", "get_history", "server_info"} <= set(
        ids
    )
    assert {"get_permissions", "delete_accounts", "create_flush"} <= set(ids)


def test_tags_are_listed(document: dict[str, Any]) -> None:
    listed = [tag["name"] for tag in document["tags"]]
    used = {tag for _, _, operation in operations(document) for tag in operation["tags"]}
    assert set(listed) == used
    assert {"Buckets", "Records", "Accounts", "History", "Utilities", "Flush"} <= used


def test_security(document: dict[str, Any]) -> None:
    assert document["securityDefinitions"]["basicauth"] == {"type": "basic"}
    assert document["securityDefinitions"]["account"]["type"] == "basic"
    by_path = {(path, method): op for path, method, op in operations(document)}
    assert by_path[("/", "get")]["security"] == []
    assert by_path[("/__flush__", "post")]["security"] == []
    assert by_path[("/buckets", "get")]["security"] == [{"account": []}, {"basicauth": []}]


def test_references_resolve(document: dict[str, Any]) -> None:
    text = str(document)
    for ref in set(re.findall(r"'\$ref': '#/definitions/(\w+)'", text)):
        assert ref in document["definitions"]


def test_resource_bodies_come_from_their_schemas(document: dict[str, Any]) -> None:
    put = document["paths"]["/accounts/{id}"]["put"]
    body = next(p for p in put["parameters"] if p["in"] == "body")
    data = body["schema"]["properties"]["data"]
    assert data["properties"]["password"] == {"type": "string"}
    assert data["required"] == ["password"]
    collection = document["paths"]["/buckets/{bucket_id}/collections/{id}"]["patch"]
    body = next(p for p in collection["parameters"] if p["in"] == "body")
    permissions = body["schema"]["properties"]["permissions"]["properties"]
    assert set(permissions) == {"read", "write", "record:create"}
    assert "application/merge-patch+json" in collection["consumes"]


def test_only_configured_endpoints_are_described(make_app: MakeApp) -> None:
    document = make_app().get("/v1/__api__").json
    assert "/accounts" not in document["paths"]
    assert "/permissions" not in document["paths"]
    assert document["securityDefinitions"] == {"basicauth": {"type": "basic"}}
    jsonschema.Draft7Validator(SWAGGER_2).validate(document)


def test_document_is_cached_but_host_follows_the_request(make_app: MakeApp) -> None:
    app = make_app()
    first = app.get("/v1/__api__").json
    second = app.get("/v1/__api__", headers={"Host": "example.com:8443"}).json
    assert second["host"] == "example.com:8443"
    assert {k: v for k, v in first.items() if k != "host"} == {
        k: v for k, v in second.items() if k != "host"
    }
    assert app.app.registry.openapi_document is not None


def test_http_host_and_scheme_settings(make_app: MakeApp) -> None:
    app = make_app({"kinto.http_host": "kinto.example.com", "kinto.http_scheme": "https"})
    document = app.get("/v1/__api__").json
    assert document["host"] == "kinto.example.com"
    assert document["schemes"] == ["https"]


def test_anonymous_and_cors(make_app: MakeApp) -> None:
    response = make_app().get("/v1/__api__", headers={"Origin": "http://a.example"})
    assert response.status_int == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
