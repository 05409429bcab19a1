"""JSON schemas on Kinto's objects: collections' ``schema``, buckets' ``<type>:schema``.

Two layers, as in Kinto 26.5.0:

* Always: a collection's ``schema`` and a bucket's ``record:schema``,
  ``collection:schema`` and ``group:schema`` must be valid Draft 7 schemas, and
  valid under the draft they name (400 naming ``data.schema``...), whether
  validation is enabled or not.
* With ``kinto.experimental_collection_schema_validation`` (capability
  ``schema``): records are validated against their collection's ``schema`` and
  then their bucket's ``record:schema``; collections and groups against their
  bucket's ``collection:schema`` / ``group:schema``.  A failure is a 400 errno
  107 naming the failing field.  ``id`` (unless the schema declares it),
  ``last_modified`` and ``schema`` are left out of the validation, and records
  validated by a collection schema get ``schema: <collection last_modified>``,
  telling clients which version of the schema they satisfy.

Both are one object validator (``registry.object_validators``), run by the
resource layer before anything is stored.  Validation itself, and what it may
cost, is :mod:`kinto_clone.core.json_schema`'s.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from kinto_clone.core import json_schema
from kinto_clone.core.errors import raise_invalid
from kinto_clone.core.resource import Resource
from kinto_clone.views import object_exists_or_404

BUCKET_SCHEMA_FIELDS = ("record:schema", "collection:schema", "group:schema")
RECORD_SCHEMA_FIELD = "schema"
ID_FIELD = "id"
MODIFIED_FIELD = "last_modified"


def _schema_problem(error: json_schema.SchemaError) -> str:
    """Kinto's wording: the last member of the failing path, glued to the message."""
    return f"{error.path[-1]}{error.message}" if error.path else error.message


def _check_schema_field(resource: Resource, obj: dict[str, Any], field: str) -> None:
    """A schema attribute must itself be a valid schema (400 ``data.<field>``).

    Kinto checks it against the Draft 7 meta-schema whatever its ``$schema``, then
    answers 500 to every record if it is invalid under its own draft: it is also
    checked against that draft's meta-schema here.
    """
    if field not in obj:
        return
    schema = obj[field]
    name = f"data.{field}"
    if not isinstance(schema, dict):
        description = f'"{schema}" is not a mapping type: Does not implement dict-like'
        raise_invalid(resource.request, name=name, description=f"{description} functionality.")
    try:
        json_schema.check_schema_draft7(schema)
        json_schema.check_schema(schema)
    except json_schema.SchemaError as error:
        raise_invalid(resource.request, name=name, description=_schema_problem(error))
    except json_schema.TooCostly as error:
        raise_invalid(resource.request, name=name, description=str(error))


def _failing_field(error: json_schema.ValidationError) -> str | int | None:
    """The ``details`` name Kinto gives a validation error.

    The last member of the instance path; at the top level, the last item (or
    character) of the keyword's value, or else the keyword.  Where Kinto would
    name an object or fail (a ``not`` or ``minProperties`` at the top level: a
    500 there), the keyword is named.
    """
    if error.path:
        return error.path[-1]
    keyword = error.schema_path[-1] if error.schema_path else None
    if error.validator_value:
        try:
            field = error.validator_value[-1]
        except (TypeError, KeyError, IndexError):
            return keyword
        return field if isinstance(field, str | int) and not isinstance(field, bool) else keyword
    return keyword


def validate_against(
    resource: Resource, obj: dict[str, Any], schema: dict[str, Any], ignored: tuple[str, ...]
) -> None:
    """Validate ``obj`` minus the server-managed fields, or raise a 400.

    As in Kinto, ``id`` is left out unless the schema's ``properties`` name it, and
    the left-out fields are dropped from ``required`` (and ``required`` with them,
    when none is left).
    """
    if ID_FIELD not in (schema.get("properties") or {}):
        ignored = (*ignored, ID_FIELD)
    data = {key: value for key, value in obj.items() if key not in ignored}
    required = [name for name in schema.get("required", []) if name not in ignored]
    if required:
        schema = {**schema, "required": required}
    else:
        schema = {key: value for key, value in schema.items() if key != "required"}
    try:
        json_schema.validate(data, schema)
    except json_schema.ValidationError as error:
        raise_invalid(resource.request, name=_failing_field(error), description=error.message)
    except json_schema.Unresolvable as error:
        raise_invalid(resource.request, name="schema", description=str(error))
    except json_schema.SchemaError as error:
        raise_invalid(resource.request, name="schema", description=_schema_problem(error))
    except json_schema.TooCostly as error:
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
