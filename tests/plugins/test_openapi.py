"""``GET /v1/__api__``: the Swagger 2.0 description of the running server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV2SpecValidator

from tests.plugins.conftest import ACCOUNTS_SETTINGS, MakeApp

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
    """Checked by openapi-spec-validator, not by the project's own validator."""
    validate(document, cls=OpenAPIV2SpecValidator)
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
    validate(document, cls=OpenAPIV2SpecValidator)


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


def test_responses_do_not_require_what_requests_do(document: dict[str, Any]) -> None:
    """An account's password is required in requests, never echoed in answers
    (found by tests/fuzz: a 201 from ``PUT /accounts/{id}`` broke the document)."""
    put = document["paths"]["/accounts/{id}"]["put"]
    for status in ("200", "201"):
        data = put["responses"][status]["schema"]["properties"]["data"]
        assert "required" not in data
    listed = document["paths"]["/accounts"]["get"]["responses"]["200"]["schema"]
    assert "required" not in listed["properties"]["data"]["items"]
