"""The ``jsonschema`` library, set up to validate untrusted schemas and documents.

As in Kinto, a schema's ``$schema`` picks the draft (2020-12 when absent or
unknown) and the first error found is reported.  A client writes both the
schema and the documents, so what jsonschema would let either cost is bounded:

* no network: ``$ref`` resolves only within the schema and the drafts'
  meta-schemas; anything else is :class:`Unresolvable` (Kinto fetches it);
* ``uniqueItems`` and ``enum`` compare canonical JSON texts through a hash, in
  linear time (jsonschema compares pairs: 2,000 objects took 12 s);
* each validation may evaluate a number of keywords (:data:`BASE_STEPS`, more
  for larger documents) for a time (:data:`VALIDATION_SECONDS`), which stops
  schemas that re-validate a value exponentially; ``$ref`` cycles exhaust the
  stack first, which is caught too;
* ``pattern``, ``patternProperties`` and ``additionalProperties`` match with
  the ``regex`` module under a time limit per validation (:data:`REGEX_SECONDS`),
  so a catastrophically backtracking pattern cannot hold a worker.

Any of those limits reached raises :class:`TooCostly`.
"""

from __future__ import annotations

import contextvars
import functools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import regex
from jsonschema import Draft7Validator, Draft202012Validator, SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for
from jsonschema_specifications import REGISTRY as META_SCHEMAS
from referencing.exceptions import Unresolvable

__all__ = [
    "SchemaError",
    "TooCostly",
    "Unresolvable",
    "ValidationError",
    "check_schema",
    "check_schema_draft7",
    "validate",
]

# Keyword evaluations allowed per validation: a base, plus some per value of the
# document so that a large document under a large-but-honest schema still fits.
BASE_STEPS = 50_000
STEPS_PER_VALUE = 20
# Wall-clock time one validation may take, regular expression matches included:
# a step's cost grows with how deep the schema nests, so steps alone are no bound.
VALIDATION_SECONDS = 3.0
# Time all regular expression matches of one validation may take together.
REGEX_SECONDS = 0.5


class TooCostly(Exception):
    """Validating this document with this schema would cost too much."""


class _Budget:
    """What one validation may still spend: keyword steps and regex time."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        started = time.monotonic()
        self.deadline = started + VALIDATION_SECONDS
        self.regex_deadline = min(started + REGEX_SECONDS, self.deadline)
        self.enum_keys: dict[int, frozenset[str]] = {}

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise TooCostly("validation against this schema takes too many steps")
        if time.monotonic() > self.deadline:
            raise TooCostly("validation against this schema takes too long")

    def search(self, pattern: str, text: str) -> bool:
        remaining = self.regex_deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            return _compiled(pattern).search(text, timeout=remaining) is not None
        except TimeoutError:
            raise TooCostly(f"matching the pattern {pattern!r} takes too long") from None


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "json_schema_budget", default=None
)


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> regex.Pattern:
    return regex.compile(pattern)


def _search(pattern: str, text: str) -> bool:
    budget = _BUDGET.get()
    if budget is None:  # meta-schema checks: patterns of the drafts themselves
        return regex.search(pattern, text) is not None
    return budget.search(pattern, text)


def canonical_json(value: Any) -> str:
    """A text equal for JSON-equal values: ``1 == 1.0``, ``true != 1``, keys unordered."""
    return json.dumps(_normalized(value), sort_keys=True, separators=(",", ":"))


def _normalized(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


def _unique_items(
    validator: Validator, unique: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if unique and validator.is_type(instance, "array"):
        seen: set[str] = set()
        for item in instance:
            text = canonical_json(item)
            if text in seen:
                yield ValidationError(f"{instance!r} has non-unique elements")
                return
            seen.add(text)


def _enum(
    validator: Validator, enums: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    budget = _BUDGET.get()
    if budget is None or not isinstance(enums, list):
        allowed = frozenset(canonical_json(each) for each in enums)
    else:  # one enum may be checked against every item of a long array
        allowed = budget.enum_keys.get(id(enums))
        if allowed is None:
            allowed = budget.enum_keys[id(enums)] = frozenset(map(canonical_json, enums))
    if canonical_json(instance) not in allowed:
        yield ValidationError(f"{instance!r} is not one of {enums!r}")


def _pattern(
    validator: Validator, pattern: str, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Validator, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Validator, additional: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extras = [
        key
        for key in instance
        if key not in properties and not any(_search(pattern, key) for pattern in patterns)
    ]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            listed = ", ".join(repr(each) for each in sorted(patterns))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {listed}")
        else:
            names = ", ".join(repr(each) for each in sorted(extras, key=str))
            verb = "was" if len(extras) == 1 else "were"
            message = f"Additional properties are not allowed ({names} {verb} unexpected)"
            yield ValidationError(message)


def _metered(keyword: Callable[..., Any]) -> Callable[..., Any]:
    """``keyword``, spending one step of the current validation's budget."""

    @functools.wraps(keyword)
    def metered(validator: Validator, value: Any, instance: Any, schema: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.step()
        return keyword(validator, value, instance, schema)

    return metered


_REPLACED = {
    "uniqueItems": _unique_items,
    "enum": _enum,
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}


@functools.cache
def _safe_class(library_class: type[Validator]) -> type[Validator]:
    """``library_class`` with the keywords above replaced, every keyword metered."""
    keywords = {
        name: _metered(_REPLACED.get(name, function))
        for name, function in library_class.VALIDATORS.items()
    }
    safe_class = extend(library_class, keywords)
    safe_class.evolve = _evolve_safely
    return safe_class


def _evolve_safely(self: Validator, **changes: Any) -> Validator:
    """The library's ``evolve``, except that a subschema naming a draft (``$schema``,
    as every meta-schema does) gets that draft's safe class, not the library's."""
    own_class = type(self)
    schema = changes.setdefault("schema", self.schema)
    chosen = validator_for(schema, default=own_class)
    if chosen is not own_class:
        chosen = _safe_class(chosen)
    for name, alias in _init_fields(own_class):
        if alias not in changes:
            changes[alias] = getattr(self, name)
    return chosen(**changes)


@functools.cache
def _init_fields(validator_class: type[Validator]) -> tuple[tuple[str, str], ...]:
    """``(attribute, argument)`` of what a validator is made of, to copy when evolving."""
    return tuple(
        (field.name, field.alias) for field in attrs.fields(validator_class) if field.init
    )


def _validator_class(schema: Any) -> type[Validator]:
    """Kinto's choice: the draft ``$schema`` names, 2020-12 when absent or unknown."""
    return validator_for(schema, default=Draft202012Validator)


def _check_against_meta_schema(library_class: type[Validator], schema: Any) -> None:
    meta_validator = _safe_class(validator_for(library_class.META_SCHEMA))(
        library_class.META_SCHEMA,
        registry=META_SCHEMAS,
        format_checker=library_class.FORMAT_CHECKER,
    )
    token = _BUDGET.set(_Budget(BASE_STEPS + STEPS_PER_VALUE * _count_values(schema)))
    try:
        for error in meta_validator.iter_errors(schema):
            raise SchemaError.create_from(error)
    except RecursionError:
        raise TooCostly("this schema is nested too deeply") from None
    finally:
        _BUDGET.reset(token)


def check_schema_draft7(schema: Any) -> None:
    """Kinto's check of a new schema: valid under the Draft 7 meta-schema, whatever its
    ``$schema``; raises :class:`SchemaError` for the first problem."""
    _check_against_meta_schema(Draft7Validator, schema)


def check_schema(schema: Any) -> None:
    """Valid under the meta-schema of the draft it will be validated with, too."""
    _check_against_meta_schema(_validator_class(schema), schema)


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str) -> Validator:
    """A validator per schema (by its JSON text), checked first, as Kinto memoizes them."""
    schema = json.loads(schema_text)
    check_schema(schema)
    return _safe_class(_validator_class(schema))(schema, registry=META_SCHEMAS)


def _count_values(value: Any) -> int:
    stack, count = [value], 0
    while stack:
        current = stack.pop()
        count += 1
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return count


def validate(instance: Any, schema: Any) -> None:
    """Raise the first :class:`ValidationError` of ``instance``, if any.

    Also raises :class:`SchemaError` for a schema invalid under its own draft,
    :class:`Unresolvable` for a ``$ref`` leading nowhere, :class:`TooCostly`.
    """
    validator = _validator(json.dumps(schema, sort_keys=True))
    token = _BUDGET.set(_Budget(BASE_STEPS + STEPS_PER_VALUE * _count_values(instance)))
    try:
        for error in validator.iter_errors(instance):
            raise error
    except RecursionError:
        raise TooCostly("this schema refers to itself endlessly or nests too deeply") from None
    finally:
        _BUDGET.reset(token)
