"""A compact JSON Schema (Draft 7) validator.

Collections validate their records with a JSON schema; Kinto uses the
``jsonschema`` package, which this project does not depend on.  This module
implements the Draft 7 validation vocabulary (``type``, ``properties``,
``required``, ``items``, ``enum``, ``const``, numeric and length bounds,
``pattern``, ``uniqueItems``, ``contains``, ``dependencies``, ``propertyNames``,
``if``/``then``/``else``, ``allOf``/``anyOf``/``oneOf``/``not``) and local
``$ref`` (``#``, ``#/definitions/...``, any JSON pointer into the schema).
``format`` is an annotation only, as with Kinto (no format checker is set up);
remote references are not fetched.

Schemas are first checked against the Draft 7 meta-schema (:func:`check_schema`),
itself validated with this module.  Errors carry the messages the ``jsonschema``
package writes ("'title' is a required property", "1 is not of type
'string'"...), since they reach clients in 400 responses.  :meth:`Validator.validate`
raises the first error found, keywords taken in the schema's own order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

__all__ = [
    "DRAFT7_META_SCHEMA",
    "SchemaError",
    "ValidationError",
    "Validator",
    "check_schema",
    "validate",
]

DRAFT7_ID = "http://json-schema.org/draft-07/schema"

_SCHEMA_ARRAY = {"type": "array", "minItems": 1, "items": {"$ref": "#"}}
_NON_NEGATIVE = {"$ref": "#/definitions/nonNegativeInteger"}
_NON_NEGATIVE_0 = {"$ref": "#/definitions/nonNegativeIntegerDefault0"}
_SCHEMA_OBJECT = {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}}

DRAFT7_META_SCHEMA: dict[str, Any] = {
    "$schema": f"{DRAFT7_ID}#",
    "$id": f"{DRAFT7_ID}#",
    "title": "Core schema meta-schema",
    "definitions": {
        "schemaArray": _SCHEMA_ARRAY,
        "nonNegativeInteger": {"type": "integer", "minimum": 0},
        "nonNegativeIntegerDefault0": {"allOf": [_NON_NEGATIVE, {"default": 0}]},
        "simpleTypes": {
            "enum": ["array", "boolean", "integer", "null", "number", "object", "string"]
        },
        "stringArray": {
            "type": "array",
            "items": {"type": "string"},
            "uniqueItems": True,
            "default": [],
        },
    },
    "type": ["object", "boolean"],
    "properties": {
        "$id": {"type": "string", "format": "uri-reference"},
        "$schema": {"type": "string", "format": "uri"},
        "$ref": {"type": "string", "format": "uri-reference"},
        "$comment": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "default": True,
        "readOnly": {"type": "boolean", "default": False},
        "examples": {"type": "array", "items": True},
        "multipleOf": {"type": "number", "exclusiveMinimum": 0},
        "maximum": {"type": "number"},
        "exclusiveMaximum": {"type": "number"},
        "minimum": {"type": "number"},
        "exclusiveMinimum": {"type": "number"},
        "maxLength": _NON_NEGATIVE,
        "minLength": _NON_NEGATIVE_0,
        "pattern": {"type": "string", "format": "regex"},
        "additionalItems": {"$ref": "#"},
        "items": {
            "anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/schemaArray"}],
            "default": True,
        },
        "maxItems": _NON_NEGATIVE,
        "minItems": _NON_NEGATIVE_0,
        "uniqueItems": {"type": "boolean", "default": False},
        "contains": {"$ref": "#"},
        "maxProperties": _NON_NEGATIVE,
        "minProperties": _NON_NEGATIVE_0,
        "required": {"$ref": "#/definitions/stringArray"},
        "additionalProperties": {"$ref": "#"},
        "definitions": _SCHEMA_OBJECT,
        "properties": _SCHEMA_OBJECT,
        "patternProperties": {**_SCHEMA_OBJECT, "propertyNames": {"format": "regex"}},
        "dependencies": {
            "type": "object",
            "additionalProperties": {
                "anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/stringArray"}]
            },
        },
        "propertyNames": {"$ref": "#"},
        "const": True,
        "enum": {"type": "array", "items": True},
        "type": {
            "anyOf": [
                {"$ref": "#/definitions/simpleTypes"},
                {
                    "type": "array",
                    "items": {"$ref": "#/definitions/simpleTypes"},
                    "minItems": 1,
                    "uniqueItems": True,
                },
            ]
        },
        "format": {"type": "string"},
        "contentMediaType": {"type": "string"},
        "contentEncoding": {"type": "string"},
        "if": {"$ref": "#"},
        "then": {"$ref": "#"},
        "else": {"$ref": "#"},
        "allOf": {"$ref": "#/definitions/schemaArray"},
        "anyOf": {"$ref": "#/definitions/schemaArray"},
        "oneOf": {"$ref": "#/definitions/schemaArray"},
        "not": {"$ref": "#"},
    },
    "default": True,
}


class ValidationError(ValueError):
    """An instance does not match its schema.

    ``path`` leads from the validated document to the offending value;
    ``keyword`` is the failing schema keyword.  ``subject`` names the property
    the error is about when it is not in ``path`` (a missing required property,
    an unexpected additional one).
    """

    def __init__(
        self,
        message: str,
        keyword: str,
        path: tuple[str | int, ...] = (),
        subject: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.keyword = keyword
        self.path = path
        self.subject = subject

    @property
    def field(self) -> str:
        """Dotted name of the offending field, or the keyword for the whole document."""
        parts = [*self.path, *([self.subject] if self.subject is not None else [])]
        if not parts:
            return self.keyword
        return ".".join(str(part) for part in parts)


class SchemaError(ValueError):
    """A schema is not a valid Draft 7 schema (or refers to what it lacks)."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        if not self.path:
            return self.message
        return f"{'.'.join(str(part) for part in self.path)}: {self.message}"


# --- JSON semantics -----------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


TYPE_CHECKS = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: _is_number(v) and (isinstance(v, int) or float(v).is_integer()),
    "number": _is_number,
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _unique(items: list[Any]) -> bool:
    return not any(
        json_equal(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items))
    )


def _plural_unexpected(names: list[str]) -> str:
    listed = ", ".join(repr(name) for name in names)
    return f"({listed} {'was' if len(names) == 1 else 'were'} unexpected)"


# --- The validator --------------------------------------------------------------------


class Validator:
    """Validates documents against one schema (checked with :func:`check_schema` first
    by callers that accept user schemas)."""

    def __init__(self, schema: dict[str, Any] | bool, check_formats: bool = False) -> None:
        self.schema = schema
        self.check_formats = check_formats
        # Documents that local references resolve in: the schema, or the
        # meta-schema while following a reference into it.
        self._documents: list[Any] = [schema]
        # (ref, document, instance) being expanded: a ``$ref`` cycle on the same
        # value would otherwise recurse forever (``{"$ref": "#"}``).
        self._expanding: set[tuple[str, int, int]] = set()

    # Public API

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        yield from self._descend(instance, self.schema, ())

    def is_valid(self, instance: Any) -> bool:
        return next(self.iter_errors(instance), None) is None

    def validate(self, instance: Any) -> None:
        """Raise the first :class:`ValidationError` (schema keyword order)."""
        for error in self.iter_errors(instance):
            raise error

    # References

    def resolve(self, ref: str) -> Any:
        """The subschema a ``$ref`` points to; :class:`SchemaError` if there is none."""
        return self._resolve(ref)[1]

    def _resolve(self, ref: str) -> tuple[Any, Any]:
        """``(document, subschema)`` of a reference."""
        base, _, fragment = ref.partition("#")
        if base:
            if base.rstrip("/") != DRAFT7_ID:
                raise SchemaError(f"Unresolvable JSON pointer: {ref!r}")
            root: Any = DRAFT7_META_SCHEMA
        else:
            root = self._documents[-1]
        document = root
        fragment = unquote(fragment)
        if fragment and not fragment.startswith("/"):
            raise SchemaError(f"Unresolvable JSON pointer: {ref!r}")
        for token in fragment.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(document, dict) and token in document:
                document = document[token]
            elif isinstance(document, list) and token.isdigit() and int(token) < len(document):
                document = document[int(token)]
            else:
                raise SchemaError(f"Unresolvable JSON pointer: {ref!r}")
        return root, document

    # Traversal

    def _descend(
        self, instance: Any, schema: Any, path: tuple[str | int, ...]
    ) -> Iterator[ValidationError]:
        if schema is True:
            return
        if schema is False:
            yield ValidationError(f"False schema does not allow {instance!r}", "false", path)
            return
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            # Draft 7: siblings of ``$ref`` are ignored.
            yield from self._ref(instance, schema["$ref"], path)
            return
        for keyword, value in schema.items():
            check = getattr(self, f"_k_{keyword}", None)
            if check is None:
                if keyword == "format" and self.check_formats:
                    yield from self._format(instance, value, path)
                continue
            yield from check(instance, value, schema, path)

    def _ref(self, instance: Any, ref: str, path: tuple) -> Iterator[ValidationError]:
        key = (ref, id(self._documents[-1]), id(instance))
        if key in self._expanding:
            return
        document, target = self._resolve(ref)
        self._expanding.add(key)
        self._documents.append(document)
        try:
            # Materialised so that the cycle guard and the document stack
            # cover the whole expansion.
            errors = list(self._descend(instance, target, path))
        finally:
            self._documents.pop()
            self._expanding.discard(key)
        yield from errors

    def _format(self, instance: Any, value: Any, path: tuple) -> Iterator[ValidationError]:
        """Only ``regex`` is checked, for the meta-schema (broken ``pattern`` values)."""
        if value == "regex" and isinstance(instance, str):
            try:
                re.compile(instance)
            except re.error:
                yield ValidationError(f"{instance!r} is not a 'regex'", "format", path)

    # Keywords: ``_k_<keyword>(instance, value, schema, path)``

    def _k_type(self, instance: Any, value: Any, schema: dict, path: tuple):
        types = value if isinstance(value, list) else [value]
        if not any(TYPE_CHECKS.get(t, lambda v: False)(instance) for t in types):
            names = ", ".join(repr(t) for t in types)
            yield ValidationError(f"{instance!r} is not of type {names}", "type", path)

    def _k_enum(self, instance: Any, value: Any, schema: dict, path: tuple):
        if isinstance(value, list) and not any(json_equal(instance, v) for v in value):
            yield ValidationError(f"{instance!r} is not one of {value!r}", "enum", path)

    def _k_const(self, instance: Any, value: Any, schema: dict, path: tuple):
        if not json_equal(instance, value):
            yield ValidationError(f"{value!r} was expected", "const", path)

    def _k_multipleOf(self, instance: Any, value: Any, schema: dict, path: tuple):
        if not _is_number(instance) or not _is_number(value) or value <= 0:
            return
        if isinstance(value, float) or isinstance(instance, float):
            # Decimal arithmetic on the written values: 0.3 is a multiple of 0.1.
            try:
                failed = Decimal(repr(instance)) % Decimal(repr(value)) != 0
            except InvalidOperation:
                failed = True
        else:
            failed = instance % value != 0
        if failed:
            yield ValidationError(f"{instance!r} is not a multiple of {value}", "multipleOf", path)

    def _bound(self, instance: Any, value: Any, ok: bool, message: str, keyword: str, path):
        if _is_number(instance) and _is_number(value) and not ok:
            yield ValidationError(f"{instance!r} {message} {value!r}", keyword, path)

    def _k_minimum(self, instance: Any, value: Any, schema: dict, path: tuple):
        ok = not _is_number(instance) or not _is_number(value) or instance >= value
        yield from self._bound(instance, value, ok, "is less than the minimum of", "minimum", path)

    def _k_maximum(self, instance: Any, value: Any, schema: dict, path: tuple):
        ok = not _is_number(instance) or not _is_number(value) or instance <= value
        yield from self._bound(
            instance, value, ok, "is greater than the maximum of", "maximum", path
        )

    def _k_exclusiveMinimum(self, instance: Any, value: Any, schema: dict, path: tuple):
        ok = not _is_number(instance) or not _is_number(value) or instance > value
        yield from self._bound(
            instance,
            value,
            ok,
            "is less than or equal to the minimum of",
            "exclusiveMinimum",
            path,
        )

    def _k_exclusiveMaximum(self, instance: Any, value: Any, schema: dict, path: tuple):
        ok = not _is_number(instance) or not _is_number(value) or instance < value
        yield from self._bound(
            instance,
            value,
            ok,
            "is greater than or equal to the maximum of",
            "exclusiveMaximum",
            path,
        )

    def _k_minLength(self, instance: Any, value: Any, schema: dict, path: tuple):
        if isinstance(instance, str) and isinstance(value, int) and len(instance) < value:
            yield ValidationError(f"{instance!r} is too short", "minLength", path)

    def _k_maxLength(self, instance: Any, value: Any, schema: dict, path: tuple):
        if isinstance(instance, str) and isinstance(value, int) and len(instance) > value:
            yield ValidationError(f"{instance!r} is too long", "maxLength", path)

    def _k_pattern(self, instance: Any, value: Any, schema: dict, path: tuple):
        if isinstance(instance, str) and isinstance(value, str):
            try:
                found = re.search(value, instance) is not None
            except re.error:
                raise SchemaError(f"{value!r} is not a valid regular expression") from None
            if not found:
                yield ValidationError(f"{instance!r} does not match {value!r}", "pattern", path)

    def _k_items(self, instance: Any, value: Any, schema: dict, path: tuple):
        if not isinstance(instance, list):
            return
        if isinstance(value, list):
            for index, (item, subschema) in enumerate(zip(instance, value, strict=False)):
                yield from self._descend(item, subschema, (*path, index))
        else:
            for index, item in enumerate(instance):
                yield from self._descend(item, value, (*path, index))

    def _k_additionalItems(self, instance: Any, value: Any, schema: dict, path: tuple):
        items = schema.get("items")
        if not isinstance(instance, list) or not isinstance(items, list):
            return
        extra = instance[len(items) :]
        if value is False and extra:
            unexpected = _plural_unexpected([repr(item) for item in extra])
            yield ValidationError(
                f"Additional items are not allowed {unexpected}", "additionalItems", path
            )
            return
        for index, item in enumerate(extra, start=len(items)):
            yield from self._descend(item, value, (*path, index))

    def _k_minItems(self, instance: Any, value: Any, schema: dict, path: tuple):
        if isinstance(instance, list) and isinstance(value, int) and len(instance) < value:
            yield ValidationError(f"{instance!r} is too short", "minItems", path)

    def _k_maxItems(self, instance: Any, value: Any, schema: dict, path: tuple):
        if isinstance(instance, list) and isinstance(value, int) and len(instance) > value:
            yield ValidationError(f"{instance!r} is too long", "maxItems", path)

    def _k_uniqueItems(self, instance: Any, value: Any, schema: dict, path: tuple):
        if value is True and isinstance(instance, list) and not _unique(instance):
            yield ValidationError(f"{instance!r} has non-unique elements", "uniqueItems", path)

    def _k_contains(self, instance: Any, value: Any, schema: dict, path: tuple):
        if isinstance(instance, list) and not any(
            self._valid(item, value, (*path, i)) for i, item in enumerate(instance)
        ):
            yield ValidationError(
                f"{instance!r} does not contain items matching the given schema",
                "contains",
                path,
            )

    def _k_required(self, instance: Any, value: Any, schema: dict, path: tuple):
        if not isinstance(instance, dict) or not isinstance(value, list):
            return
        for name in value:
            if name not in instance:
                yield ValidationError(
                    f"{name!r} is a required property", "required", path, subject=name
                )

    def _k_minProperties(self, instance: Any, value: Any, schema: dict, path: tuple):
        if isinstance(instance, dict) and isinstance(value, int) and len(instance) < value:
            yield ValidationError(
                f"{instance!r} does not have enough properties", "minProperties", path
            )

    def _k_maxProperties(self, instance: Any, value: Any, schema: dict, path: tuple):
        if isinstance(instance, dict) and isinstance(value, int) and len(instance) > value:
            yield ValidationError(f"{instance!r} has too many properties", "maxProperties", path)

    def _k_properties(self, instance: Any, value: Any, schema: dict, path: tuple):
        if not isinstance(instance, dict) or not isinstance(value, dict):
            return
        for name, subschema in value.items():
            if name in instance:
                yield from self._descend(instance[name], subschema, (*path, name))

    def _k_patternProperties(self, instance: Any, value: Any, schema: dict, path: tuple):
        if not isinstance(instance, dict) or not isinstance(value, dict):
            return
        for pattern, subschema in value.items():
            for name, item in instance.items():
                if re.search(pattern, name):
                    yield from self._descend(item, subschema, (*path, name))

    def _k_additionalProperties(self, instance: Any, value: Any, schema: dict, path: tuple):
        if not isinstance(instance, dict):
            return
        declared = schema.get("properties") or {}
        patterns = list((schema.get("patternProperties") or {}).keys())
        extra = [
            name
            for name in instance
            if name not in declared and not any(re.search(p, name) for p in patterns)
        ]
        if value is False:
            if extra:
                if patterns:
                    listed = ", ".join(repr(name) for name in sorted(extra))
                    message = f"{listed} do not match any of the regexes: " + ", ".join(
                        repr(p) for p in sorted(patterns)
                    )
                else:
                    message = f"Additional properties are not allowed {_plural_unexpected(extra)}"
                yield ValidationError(message, "additionalProperties", path, subject=extra[0])
            return
        for name in extra:
            yield from self._descend(instance[name], value, (*path, name))

    def _k_dependencies(self, instance: Any, value: Any, schema: dict, path: tuple):
        if not isinstance(instance, dict) or not isinstance(value, dict):
            return
        for name, dependency in value.items():
            if name not in instance:
                continue
            if isinstance(dependency, list):
                for required in dependency:
                    if required not in instance:
                        yield ValidationError(
                            f"{required!r} is a dependency of {name!r}",
                            "dependencies",
                            path,
                            subject=required,
                        )
            else:
                yield from self._descend(instance, dependency, path)

    def _k_propertyNames(self, instance: Any, value: Any, schema: dict, path: tuple):
        if isinstance(instance, dict):
            for name in instance:
                yield from self._descend(name, value, (*path, name))

    def _k_if(self, instance: Any, value: Any, schema: dict, path: tuple):
        if self._valid(instance, value, path):
            if "then" in schema:
                yield from self._descend(instance, schema["then"], path)
        elif "else" in schema:
            yield from self._descend(instance, schema["else"], path)

    def _k_allOf(self, instance: Any, value: Any, schema: dict, path: tuple):
        for subschema in value if isinstance(value, list) else []:
            yield from self._descend(instance, subschema, path)

    def _k_anyOf(self, instance: Any, value: Any, schema: dict, path: tuple):
        subschemas = value if isinstance(value, list) else []
        if not any(self._valid(instance, subschema, path) for subschema in subschemas):
            yield ValidationError(
                f"{instance!r} is not valid under any of the given schemas", "anyOf", path
            )

    def _k_oneOf(self, instance: Any, value: Any, schema: dict, path: tuple):
        subschemas = value if isinstance(value, list) else []
        matching = [s for s in subschemas if self._valid(instance, s, path)]
        if not matching:
            yield ValidationError(
                f"{instance!r} is not valid under any of the given schemas", "oneOf", path
            )
        elif len(matching) > 1:
            listed = ", ".join(repr(s) for s in matching)
            yield ValidationError(f"{instance!r} is valid under each of {listed}", "oneOf", path)

    def _k_not(self, instance: Any, value: Any, schema: dict, path: tuple):
        if self._valid(instance, value, path):
            yield ValidationError(f"{instance!r} should not be valid under {value!r}", "not", path)

    def _valid(self, instance: Any, schema: Any, path: tuple) -> bool:
        return next(self._descend(instance, schema, path), None) is None


# --- Schema checks --------------------------------------------------------------------


def _references(schema: Any, path: tuple = ()) -> Iterator[tuple[str, tuple]]:
    """Every ``$ref`` in a schema document, with where it appears."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value, path
            elif key not in ("enum", "const", "default", "examples"):
                yield from _references(value, (*path, key))
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _references(item, (*path, index))


def check_schema(schema: Any) -> None:
    """Raise :class:`SchemaError` unless ``schema`` is a usable Draft 7 schema.

    Beyond the meta-schema, every ``$ref`` must resolve: Kinto accepts a dangling
    one and then rejects every record of the collection.
    """
    meta_validator = Validator(DRAFT7_META_SCHEMA, check_formats=True)
    for error in meta_validator.iter_errors(schema):
        raise SchemaError(error.message, error.path)
    validator = Validator(schema)
    for ref, path in _references(schema):
        try:
            validator.resolve(ref)
        except SchemaError as error:
            raise SchemaError(error.message, (*path, "$ref")) from None


def validate(instance: Any, schema: dict[str, Any] | bool) -> None:
    """Raise the first :class:`ValidationError` of ``instance`` against ``schema``."""
    Validator(schema).validate(instance)
