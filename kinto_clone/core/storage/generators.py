"""Id generators: each makes new ids for one object type and validates given ones.

Kinto users subclass :class:`Generator` in their own module (see the "custom ID
generator" tutorial) and point ``kinto.<type>_id_generator`` at it; the
:mod:`kinto` compatibility package re-exports this module so their
``from kinto.core.storage import generators`` keeps working.
"""

from __future__ import annotations

import os
import random
import re
import string

_random = random.SystemRandom()


class Generator:
    """Base class: ``__call__`` returns a new id, ``match`` validates one.

    Subclasses set ``regexp``; ids supplied by clients are accepted only when they
    match it.
    """

    regexp = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"

    def __init__(self, config: object = None) -> None:
        self.config = config
        self._regexp = re.compile(self.regexp)

    def match(self, object_id: object) -> bool:
        return isinstance(object_id, str) and self._regexp.match(object_id) is not None

    def __call__(self) -> str:
        raise NotImplementedError


def uuid4_text() -> str:
    """``str(uuid.uuid4())`` (the same 122 random bits from ``os.urandom``, the
    same version and variant) in a third of its time: made on every write, and
    for every request's id."""
    digits = os.urandom(16).hex()
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


class UUID4(Generator):
    """Random UUIDs, the default for every type unless configured otherwise."""

    regexp = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

    def __call__(self) -> str:
        return uuid4_text()


class NameGenerator(Generator):
    """Eight characters, the first alphanumeric: Kinto's default for buckets,
    collections and groups."""

    regexp = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"
    _alphanumeric = string.ascii_letters + string.digits

    def __call__(self) -> str:
        first = _random.choice(self._alphanumeric)
        rest = "".join(_random.choice(self._alphanumeric + "-_") for _ in range(7))
        return first + rest


class RelaxedUUID(UUID4):
    """Generates UUIDs but accepts any well-formed id: Kinto's default for records."""

    regexp = Generator.regexp
