"""How many JSON values a document holds: what validating or copying it costs."""

from __future__ import annotations

from typing import Any


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
