"""The compact Draft 7 validator of :mod:`kinto_clone.core.jsonschema`."""

from __future__ import annotations

from typing import Any

import pytest

from kinto_clone.core.jsonschema import (
    DRAFT7_META_SCHEMA,
    SchemaError,
    ValidationError,
    Validator,
    check_schema,
    json_equal,
    validate,
)

# (schema, valid instances, invalid instances)
CASES: list[tuple[dict[str, Any] | bool, list[Any], list[Any]]] = [
    ({"type": "string"}, ["", "a"], [1, None, [], {}]),
    ({"type": "integer"}, [1, -3, 2.0], [1.5, True, "1"]),
    ({"type": "number"}, [1, 1.5], [True, "1", None]),
    ({"type": "boolean"}, [True, False], [0, 1, "true"]),
    ({"type": "null"}, [None], [0, "", False]),
    ({"type": "array"}, [[], [1]], [{}, "[]"]),
    ({"type": "object"}, [{}, {"a": 1}], [[], "{}"]),
    ({"type": ["string", "null"]}, ["a", None], [1]),
    ({"enum": [1, "a", None, [1]]}, [1, 1.0, "a", None, [1]], [True, "b", [2]]),
    ({"const": {"a": [1, True]}}, [{"a": [1, True]}], [{"a": [1, 1]}, {"a": [1, True], "b": 0}]),
    ({"multipleOf": 3}, [0, 9, -3, "x"], [4, 1.5]),
    ({"multipleOf": 0.1}, [0.3, 1, 2.5], [0.35]),
    ({"minimum": 2}, [2, 3, "a"], [1, 1.99]),
    ({"maximum": 2}, [2, 1], [3]),
    ({"exclusiveMinimum": 2}, [3], [2, 1]),
    ({"exclusiveMaximum": 2}, [1], [2, 3]),
    ({"minLength": 2}, ["ab", "éé", 1], ["a", ""]),
    ({"maxLength": 2}, ["ab"], ["abc"]),
    ({"pattern": "^a+$"}, ["a", "aaa", 1], ["b", "ab"]),
    ({"pattern": "b"}, ["abc"], ["a"]),
    ({"items": {"type": "integer"}}, [[], [1, 2], "x"], [[1, "a"]]),
    ({"items": [{"type": "integer"}, {"type": "string"}]}, [[1], [1, "a", None]], [["a"]]),
    ({"items": [{"type": "integer"}], "additionalItems": False}, [[1]], [[1, 2]]),
    ({"items": [{}], "additionalItems": {"type": "string"}}, [[1, "a"]], [[1, 2]]),
    ({"minItems": 1}, [[1]], [[]]),
    ({"maxItems": 1}, [[1]], [[1, 2]]),
    ({"uniqueItems": True}, [[1, 2], [1, True], [{"a": 1}, {"a": 2}]], [[1, 1.0], [[1], [1]]]),
    ({"contains": {"type": "string"}}, [[1, "a"]], [[1, 2], []]),
    ({"required": ["a", "b"]}, [{"a": 1, "b": 2}, "x"], [{"a": 1}]),
    ({"minProperties": 1}, [{"a": 1}], [{}]),
    ({"maxProperties": 1}, [{"a": 1}], [{"a": 1, "b": 2}]),
    ({"properties": {"a": {"type": "string"}}}, [{}, {"a": "x"}, {"b": 1}], [{"a": 1}]),
    ({"patternProperties": {"^x-": {"type": "integer"}}}, [{"x-a": 1, "y": "s"}], [{"x-a": "s"}]),
    (
        {"properties": {"a": {}}, "patternProperties": {"^x": {}}, "additionalProperties": False},
        [{"a": 1, "xy": 2}],
        [{"b": 1}],
    ),
    ({"additionalProperties": {"type": "integer"}}, [{"a": 1}], [{"a": "s"}]),
    ({"dependencies": {"a": ["b"]}}, [{"b": 1}, {"a": 1, "b": 2}], [{"a": 1}]),
    ({"dependencies": {"a": {"required": ["c"]}}}, [{"a": 1, "c": 1}], [{"a": 1}]),
    ({"propertyNames": {"maxLength": 2}}, [{"ab": 1}], [{"abc": 1}]),
    (
        {"if": {"type": "integer"}, "then": {"minimum": 0}, "else": {"type": "string"}},
        [1, "a"],
        [-1, None],
    ),
    ({"allOf": [{"type": "integer"}, {"minimum": 2}]}, [2], [1, "a"]),
    ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, [1, "a"], [None]),
    ({"oneOf": [{"type": "integer"}, {"minimum": 2}]}, [1, 2.5, "a"], [3, 1.5]),
    ({"not": {"type": "integer"}}, ["a"], [1]),
    ({"format": "email"}, ["not an email"], []),
    (True, [1, None], []),
    (False, [], [1, None]),
    ({"$ref": "#/definitions/a", "definitions": {"a": {"type": "integer"}}}, [1], ["a"]),
    (
        {
            "definitions": {"a/b": {"type": "integer"}},
            "properties": {"x": {"$ref": "#/definitions/a~1b"}},
        },
        [{"x": 1}],
        [{"x": "s"}],
    ),
    (
        {"type": "object", "properties": {"child": {"$ref": "#"}}, "required": ["v"]},
        [{"v": 1, "child": {"v": 2}}],
        [{"v": 1, "child": {}}],
    ),
    ({"$ref": "#"}, [1], []),
]


@pytest.mark.parametrize(("schema", "valid", "invalid"), CASES)
def test_keywords(schema: Any, valid: list[Any], invalid: list[Any]) -> None:
    check_schema(schema)
    validator = Validator(schema)
    for instance in valid:
        assert validator.is_valid(instance), instance
    for instance in invalid:
        assert not validator.is_valid(instance), instance
        with pytest.raises(ValidationError):
            validator.validate(instance)


@pytest.mark.parametrize(
    ("schema", "instance", "field", "message"),
    [
        ({"type": "string"}, 1, "type", "1 is not of type 'string'"),
        ({"type": ["string", "null"]}, 1, "type", "1 is not of type 'string', 'null'"),
        ({"required": ["a"]}, {}, "a", "'a' is a required property"),
        ({"properties": {"a": {"minimum": 3}}}, {"a": 1}, "a", "1 is less than the minimum of 3"),
        (
            {"properties": {"a": {"maximum": 0}}},
            {"a": 1},
            "a",
            "1 is greater than the maximum of 0",
        ),
        ({"enum": [1, 2]}, 3, "enum", "3 is not one of [1, 2]"),
        ({"const": "x"}, "y", "const", "'x' was expected"),
        ({"maxItems": 1}, [1, 2], "maxItems", "[1, 2] is too long"),
        ({"minLength": 2}, "a", "minLength", "'a' is too short"),
        ({"pattern": "^a"}, "b", "pattern", "'b' does not match '^a'"),
        ({"uniqueItems": True}, [1, 1], "uniqueItems", "[1, 1] has non-unique elements"),
        (
            {"additionalProperties": False},
            {"b": 1, "c": 2},
            "b",
            "Additional properties are not allowed ('b', 'c' were unexpected)",
        ),
        ({"items": {"type": "string"}}, ["a", 2], "1", "2 is not of type 'string'"),
        (
            {"properties": {"a": {"properties": {"b": {"type": "string"}}}}},
            {"a": {"b": 1}},
            "a.b",
            "1 is not of type 'string'",
        ),
        (
            {"anyOf": [{"type": "string"}]},
            1,
            "anyOf",
            "1 is not valid under any of the given schemas",
        ),
        ({"not": {}}, 1, "not", "1 should not be valid under {}"),
        ({"dependencies": {"a": ["b"]}}, {"a": 1}, "b", "'b' is a dependency of 'a'"),
    ],
)
def test_error_messages_and_fields(schema: dict, instance: Any, field: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate(instance, schema)
    assert caught.value.field == field
    assert caught.value.message == message


def test_first_error_follows_the_schema_order() -> None:
    schema = {"required": ["b", "a"], "properties": {"c": {"type": "string"}}}
    with pytest.raises(ValidationError) as caught:
        validate({"c": 1}, schema)
    assert caught.value.field == "b"


def test_all_errors_are_listed() -> None:
    validator = Validator({"required": ["a", "b"], "minProperties": 3})
    keywords = [error.keyword for error in validator.iter_errors({})]
    assert keywords == ["required", "required", "minProperties"]


def test_json_equality() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(1, True)
    assert not json_equal(0, False)
    assert not json_equal([1], [True])
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal("1", 1)


# --- Schemas themselves --------------------------------------------------------------


def test_meta_schema_is_a_valid_schema() -> None:
    check_schema(DRAFT7_META_SCHEMA)
    assert Validator(DRAFT7_META_SCHEMA).is_valid(DRAFT7_META_SCHEMA)


def test_draft7_meta_schema_reference_is_known() -> None:
    schema = {"$ref": "http://json-schema.org/draft-07/schema#"}
    check_schema(schema)
    assert Validator(schema).is_valid({"type": "string"})
    assert not Validator(schema).is_valid({"type": 3})


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "nope"}, "type: 'nope' is not valid under any of the given schemas"),
        ({"type": ["string", "string"]}, "type: ['string', 'string'] is not valid"),
        ({"required": "a"}, "required: 'a' is not of type 'array'"),
        ({"required": ["a", "a"]}, "required: ['a', 'a'] has non-unique elements"),
        ({"minLength": -1}, "minLength: -1 is less than the minimum of 0"),
        ({"maxItems": 1.5}, "maxItems: 1.5 is not of type 'integer'"),
        ({"multipleOf": 0}, "multipleOf: 0 is less than or equal to the minimum of 0"),
        ({"properties": {"a": {"minimum": "x"}}}, "properties.a.minimum: 'x' is not of type"),
        ({"properties": []}, "properties: [] is not of type 'object'"),
        ({"items": {"type": 5}}, "items: {'type': 5} is not valid under any of the given"),
        ({"allOf": []}, "allOf: [] is too short"),
        ({"pattern": "("}, "pattern: '(' is not a 'regex'"),
        ({"patternProperties": {"(": {}}}, "patternProperties.(: '(' is not a 'regex'"),
        ({"$ref": "#/definitions/missing"}, "$ref: Unresolvable JSON pointer"),
        ({"properties": {"a": {"$ref": "other.json#"}}}, "properties.a.$ref: Unresolvable"),
        ("string", "'string' is not of type 'object', 'boolean'"),
    ],
)
def test_invalid_schemas(schema: Any, message: str) -> None:
    with pytest.raises(SchemaError) as caught:
        check_schema(schema)
    assert str(caught.value).startswith(message)


def test_unknown_keywords_are_allowed() -> None:
    check_schema({"x-custom": 1, "title": "t", "format": "date-time", "$comment": "c"})


def test_references_inside_enum_values_are_data() -> None:
    check_schema({"enum": [{"$ref": "#/nowhere"}], "const": {"$ref": "#/nowhere"}})
