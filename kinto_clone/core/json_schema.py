"""The ``jsonschema`` library, set up to validate untrusted schemas and documents.

As in Kinto, a schema's ``$schema`` picks the draft (2020-12 when absent or
unknown) and the first error found is reported.  A client writes both the
schema and the documents, so what jsonschema would let either cost is bounded:

* no network: ``$ref`` resolves only within the schema and the drafts'
  meta-schemas; anything else is :class:`Unresolvable` (Kinto fetches it);
* linear ``uniqueItems`` and ``enum``, and regular expressions under a time
  limit (:mod:`kinto_clone.core.json_schema_keywords`);
* each validation may evaluate a number of keywords (:data:`BASE_STEPS`, more
  for larger documents) for a time (``VALIDATION_SECONDS``), which stops schemas
  that re-validate a value exponentially; ``$ref`` cycles exhaust the stack
  first, which is caught too.

Any of those limits reached raises :class:`TooCostly`.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import attrs
from jsonschema import Draft7Validator, Draft202012Validator, SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for
from jsonschema_specifications import REGISTRY as META_SCHEMAS
from referencing.exceptions import Unresolvable

from kinto_clone.core.json_schema_keywords import TooCostly, metered, replacements, spending
from kinto_clone.core.json_values import count_values

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
# document (or schema, for meta-schema checks) so that a large document under a
# large-but-honest schema still fits.
BASE_STEPS = 50_000
STEPS_PER_VALUE = 20


@functools.cache
def _safe_class(library_class: type[Validator]) -> type[Validator]:
    """``library_class`` with linear, time-limited keywords, every keyword metered."""
    replaced = replacements(library_class.VALIDATORS)
    keywords = {
        name: metered(replaced.get(name, function))
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
    try:
        with spending(BASE_STEPS + STEPS_PER_VALUE * count_values(schema)):
            for error in meta_validator.iter_errors(schema):
                raise SchemaError.create_from(error)
    except RecursionError:
        raise TooCostly("this schema is nested too deeply") from None


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


def validate(instance: Any, schema: Any) -> None:
    """Raise the first :class:`ValidationError` of ``instance``, if any.

    Also raises :class:`SchemaError` for a schema invalid under its own draft,
    :class:`Unresolvable` for a ``$ref`` leading nowhere, :class:`TooCostly`.
    """
    # Not sorted: keywords are evaluated in the schema's order, which picks the first error.
    validator = _validator(json.dumps(schema))
    try:
        with spending(BASE_STEPS + STEPS_PER_VALUE * count_values(instance)):
            for error in validator.iter_errors(instance):
                raise error
    except RecursionError:
        raise TooCostly("this schema refers to itself endlessly or nests too deeply") from None
