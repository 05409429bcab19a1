"""The keywords :mod:`kinto_clone.core.json_schema` puts in place of jsonschema's own,
and the budget every keyword of a validation spends.

* ``uniqueItems`` and ``enum`` compare canonical JSON texts through a hash, in
  linear time (jsonschema compares pairs: 2,000 objects took 12 s);
* ``pattern``, ``patternProperties``, ``additionalProperties`` and
  ``unevaluatedProperties`` (which match property names against
  ``patternProperties``) use the ``regex`` module under a time limit: Python's
  ``re`` cannot be interrupted, and a backtracking pattern could hold a worker for
  ever.  Messages are jsonschema's, since they reach clients in 400 responses;
* every keyword spends one step of the current validation's :class:`Budget`.
"""

from __future__ import annotations

import contextvars
import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import regex
from jsonschema import ValidationError
from jsonschema.protocols import Validator
from referencing.jsonschema import lookup_recursive_ref

# Wall-clock time one validation may take, regular expression matches included:
# a step's cost grows with how deep the schema nests, so steps alone are no bound.
VALIDATION_SECONDS = 3.0
# Time all regular expression matches of one validation may spend together (the
# regex module checks its timeout now and then: it may overshoot it twice over).
REGEX_SECONDS = 0.5


class TooCostly(Exception):
    """Validating this document with this schema would cost too much, or could not be
    bounded."""


class Budget:
    """What one validation may still spend: keyword steps and time."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        started = time.monotonic()
        self.deadline = started + VALIDATION_SECONDS
        # Counted as the time spent matching, not from the start: a slow machine
        # must not turn the other keywords' time into a refused pattern.
        self.regex_seconds = REGEX_SECONDS
        self.enum_keys: dict[int, frozenset[str]] = {}

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise TooCostly("validation against this schema takes too many steps")
        if time.monotonic() > self.deadline:
            raise TooCostly("validation against this schema takes too long")

    def search(self, pattern: str, text: str) -> bool:
        remaining = min(self.regex_seconds, self.deadline - time.monotonic())
        started = time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            return _compiled(pattern).search(text, timeout=remaining) is not None
        except TimeoutError:
            raise TooCostly(f"matching the pattern {pattern!r} takes too long") from None
        except regex.error:  # valid for Python's re (the meta-schemas' check), not here
            raise TooCostly(f"the pattern {pattern!r} cannot be matched safely") from None
        finally:
            self.regex_seconds -= time.monotonic() - started


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "json_schema_budget", default=None
)


@contextmanager
def spending(steps: int) -> Iterator[None]:
    """Run a validation with a budget of ``steps`` keywords (and of time)."""
    token = _BUDGET.set(Budget(steps))
    try:
        yield
    finally:
        _BUDGET.reset(token)


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> regex.Pattern:
    return regex.compile(pattern)


def _search(pattern: str, text: str) -> bool:
    budget = _BUDGET.get()
    if budget is None:
        budget = Budget(0)
    return budget.search(pattern, text)


def metered(keyword: Callable[..., Any]) -> Callable[..., Any]:
    """``keyword``, spending one step of the current validation's budget."""

    @functools.wraps(keyword)
    def metered_keyword(validator: Validator, value: Any, instance: Any, schema: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.step()
        return keyword(validator, value, instance, schema)

    return metered_keyword


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


def unique_items(
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


def enum(
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


def pattern(
    validator: Validator, expression: str, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(expression, instance):
        yield ValidationError(f"{instance!r} does not match {expression!r}")


def pattern_properties(
    validator: Validator, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for expression, subschema in patterns.items():
        for key, value in instance.items():
            if _search(expression, key):
                yield from validator.descend(value, subschema, path=key, schema_path=expression)


def _listed(names: list[str]) -> str:
    """``'a' was`` / ``'a', 'b' were``, as jsonschema words extra properties."""
    verb = "was" if len(names) == 1 else "were"
    return f"{', '.join(repr(name) for name in names)} {verb}"


def additional_properties(
    validator: Validator, additional: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extras = [
        key
        for key in instance
        if key not in properties and not any(_search(each, key) for each in patterns)
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
            names = _listed(sorted(extras, key=str))
            yield ValidationError(f"Additional properties are not allowed ({names} unexpected)")


def _is_valid(errors: Iterator[ValidationError]) -> bool:
    return next(errors, None) is None


def _evaluated_keys(validator: Validator, instance: dict, schema: Any, legacy: bool) -> set[str]:
    """The members of ``instance`` that ``schema`` (and what it applies) evaluates.

    Draft 2020-12's rules, or 2019-09's (``legacy``), as jsonschema applies them.
    """
    if validator.is_type(schema, "boolean"):
        return set()
    keys: set[str] = set()
    resolver = validator._resolver  # what jsonschema itself resolves references with
    references = []
    if "$ref" in schema:
        references.append(resolver.lookup(schema["$ref"]))
    if legacy and "$recursiveRef" in schema:
        references.append(lookup_recursive_ref(resolver))
    if not legacy and "$dynamicRef" in schema:
        references.append(resolver.lookup(schema["$dynamicRef"]))
    for resolved in references:
        target = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
        keys |= _evaluated_keys(target, instance, resolved.contents, legacy)

    if legacy:
        for keyword in ("properties", "additionalProperties", "unevaluatedProperties"):
            value = schema.get(keyword)
            if value is True:
                keys |= instance.keys()
            elif validator.is_type(value, "object"):
                keys |= value.keys() & instance.keys()
    else:
        if validator.is_type(schema.get("properties"), "object"):
            keys |= schema["properties"].keys() & instance.keys()
        for keyword in ("additionalProperties", "unevaluatedProperties"):
            if (subschema := schema.get(keyword)) is not None:
                keys |= {
                    key
                    for key, value in instance.items()
                    if _is_valid(validator.descend(value, subschema))
                }

    for expression in schema.get("patternProperties", {}):
        keys |= {key for key in instance if _search(expression, key)}
    for name, subschema in schema.get("dependentSchemas", {}).items():
        if name in instance:
            keys |= _evaluated_keys(validator, instance, subschema, legacy)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if _is_valid(validator.descend(instance, subschema)):
                keys |= _evaluated_keys(validator, instance, subschema, legacy)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys |= _evaluated_keys(validator, instance, schema["if"], legacy)
            if "then" in schema:
                keys |= _evaluated_keys(validator, instance, schema["then"], legacy)
        elif "else" in schema:
            keys |= _evaluated_keys(validator, instance, schema["else"], legacy)
    return keys


def _unevaluated_properties(legacy: bool) -> Callable[..., Iterator[ValidationError]]:
    def unevaluated_properties(
        validator: Validator, unevaluated: Any, instance: Any, schema: Any
    ) -> Iterator[ValidationError]:
        if not validator.is_type(instance, "object"):
            return
        evaluated = _evaluated_keys(validator, instance, schema, legacy)
        invalid = [
            key
            for key, value in instance.items()
            if key not in evaluated
            and not _is_valid(validator.descend(value, unevaluated, path=key, schema_path=key))
        ]
        if invalid and unevaluated is False:
            names = _listed(sorted(invalid, key=str))
            yield ValidationError(f"Unevaluated properties are not allowed ({names} unexpected)")
        elif invalid:
            names = _listed(invalid)
            yield ValidationError(
                "Unevaluated properties are not valid under the given schema "
                f"({names} unevaluated and invalid)"
            )

    return unevaluated_properties


def replacements(library_keywords: dict[str, Callable[..., Any]]) -> dict[str, Callable]:
    """The keywords to use instead of a draft's ``library_keywords``."""
    legacy = "$recursiveRef" in library_keywords  # Draft 2019-09
    replaced = {
        "uniqueItems": unique_items,
        "enum": enum,
        "pattern": pattern,
        "patternProperties": pattern_properties,
        "additionalProperties": additional_properties,
        "unevaluatedProperties": _unevaluated_properties(legacy),
    }
    return {name: replaced[name] for name in library_keywords if name in replaced}
