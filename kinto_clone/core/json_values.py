"""JSON documents as RFC 8259 has them: read strictly, and measured.

:func:`loads` refuses ``NaN``, ``Infinity`` and numbers overflowing to infinity,
which Python's ``json`` accepts but no JSON encoder can write back (nor
PostgreSQL's ``jsonb`` store); :func:`count_values` measures what validating or
copying a document costs.
"""

from __future__ import annotations

import json
import math
from typing import Any


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """``1e999`` would become ``inf``, which no JSON encoder can write back."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is too big")
    return value


def loads(text: str) -> Any:
    """``json.loads`` refusing (``ValueError``) what is not JSON: ``NaN``,
    ``Infinity`` and overflowing numbers."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


def count_values(value: Any, limit: int | None = None) -> int:
    """How many JSON values ``value`` holds (itself, and every member and item at
    any depth); with ``limit``, counting stops once past it."""
    stack, count = [value], 0
    while stack and (limit is None or count <= limit):
        current = stack.pop()
        count += 1
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return count
