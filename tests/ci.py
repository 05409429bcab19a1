"""Whether the tests run under continuous integration, where a missing component
(PostgreSQL, Node, a client's download...) must fail the run instead of skipping.

CI services spell the variable differently (``CI=true``, ``CI=1``, ``CI=True``):
every usual truthy spelling counts, so a skip never hides a missing component.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

TRUTHY = frozenset({"true", "1", "yes", "on"})


def in_ci() -> bool:
    """Whether ``CI`` is set to a truthy value (true/1/yes/on, any case)."""
    return os.environ.get("CI", "").strip().lower() in TRUTHY


def normalize_ci_variable() -> None:
    """Spell a truthy ``CI`` as ``true``, for checks written ``CI == "true"``
    (in test modules and in the suites of clients the tests run)."""
    if in_ci():
        os.environ["CI"] = "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test for a missing component, or fail it under CI."""
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
