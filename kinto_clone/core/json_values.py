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


# Built once, as ``json.loads`` does for its defaults: given hooks, it would build
# a decoder and its scanner on every call (a tenth of parsing a small body).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def loads(text: str | bytes) -> Any:
    """``json.loads`` refusing (``ValueError``) what is not JSON: ``NaN``,
    ``Infinity`` and overflowing numbers."""
    if not isinstance(text, str):
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    if text.startswith("\ufeff"):
        # ``json.loads``'s own check, and its words.
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


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
