"""JSON schemas on Kinto's objects: collections' ``schema``, buckets' ``<type>:schema``.

Two layers, as in Kinto 26.5.0:

* Always: a collection's ``schema`` and a bucket's ``record:schema``,
  ``collection:schema`` and ``group:schema`` must be valid Draft 7 schemas
  (400 naming ``data.schema``...), whether validation is enabled or not.
* With ``kinto.experimental_collection_schema_validation`` (capability
  ``schema``): records are validated against their collection's ``schema`` and
  then their bucket's ``record:schema``; collections and groups against their
  bucket's ``collection:schema`` / ``group:schema``.  A failure is a 400 errno
  107 naming the failing field.  ``id`` (unless the schema declares it),
  ``last_modified`` and ``schema`` are left out of the validation, and records
  validated by a collection schema get ``schema: <collection last_modified>``,
  telling clients which version of the schema they satisfy.

Both are one object validator (``registry.object_validators``), run by the
resource layer before anything is stored.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from kinto_clone.core import jsonschema
from kinto_clone.core.errors import raise_invalid
from kinto_clone.core.resource import Resource
from kinto_clone.views import object_exists_or_404

BUCKET_SCHEMA_FIELDS = ("record:schema", "collection:schema", "group:schema")
RECORD_SCHEMA_FIELD = "schema"
ID_FIELD = "id"
MODIFIED_FIELD = "last_modified"


def _check_schema_field(resource: Resource, obj: dict[str, Any], field: str) -> None:
    """A schema attribute must itself be a valid schema (400 ``data.<field>``)."""
    if field not in obj:
        return
    schema = obj[field]
    try:
        if not isinstance(schema, dict):
            raise jsonschema.SchemaError(f"{schema!r} is not a mapping")
        jsonschema.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise_invalid(resource.request, name=f"data.{field}", description=str(error))


def validate_against(
    resource: Resource, obj: dict[str, Any], schema: dict[str, Any], ignored: tuple[str, ...]
) -> None:
    """Validate ``obj`` minus the server-managed fields, or raise a 400."""
    if ID_FIELD not in (schema.get("properties") or {}):
        ignored = (*ignored, ID_FIELD)
    data = {key: value for key, value in obj.items() if key not in ignored}
    required = schema.get("required")
    if isinstance(required, list):
        schema = {**schema, "required": [name for name in required if name not in ignored]}
    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as error:
        raise_invalid(resource.request, name=error.field, description=error.message)
    except jsonschema.SchemaError as error:
        raise_invalid(resource.request, name="schema", description=str(error))


def _bucket(resource: Resource) -> dict[str, Any]:
    return object_exists_or_404(resource.request, "bucket", resource.matchdict["bucket_id"], "")


def _validate_from_bucket(resource: Resource, obj: dict[str, Any], ignored: tuple) -> None:
    schema = _bucket(resource).get(f"{resource.name}:schema")
    if isinstance(schema, dict):
        validate_against(resource, obj, schema, ignored)


def _validate_record(resource: Resource, record: dict[str, Any]) -> dict[str, Any]:
    ignored = (MODIFIED_FIELD, RECORD_SCHEMA_FIELD)
    bucket_id = resource.matchdict["bucket_id"]
    collection = object_exists_or_404(
        resource.request,
        "collection",
        resource.matchdict["collection_id"],
        f"/buckets/{bucket_id}",
    )
    schema = collection.get("schema")
    if isinstance(schema, dict):
        validate_against(resource, record, schema, ignored)
        record = {**record, RECORD_SCHEMA_FIELD: collection[MODIFIED_FIELD]}
    _validate_from_bucket(resource, record, ignored)
    return record


def validate_object(
    resource: Resource, new: dict[str, Any], old: dict[str, Any] | None
) -> dict[str, Any]:
    """The object validator: schema attributes always, data when enabled."""
    if resource.name == "bucket":
        for field in BUCKET_SCHEMA_FIELDS:
            _check_schema_field(resource, new, field)
    elif resource.name == "collection":
        _check_schema_field(resource, new, "schema")
    if not resource.request.registry.settings["experimental_collection_schema_validation"]:
        return new
    if resource.name == "record":
        return _validate_record(resource, new)
    if resource.name in ("collection", "group"):
        _validate_from_bucket(resource, new, (MODIFIED_FIELD,))
    return new


def includeme(config: Configurator) -> None:
    config.registry.object_validators.append(validate_object)
    if config.get_settings()["experimental_collection_schema_validation"]:
        config.add_api_capability(
            "schema",
            description="Validates collection records with JSON schemas.",
            url="https://kinto.readthedocs.io/en/latest/api/1.x/collections.html"
            "#collection-json-schema",
        )
