"""How hard the property-based suites search, from environment variables.

* ``KINTO_FUZZ_EXAMPLES``: examples per API operation of the schemathesis suite
  (default 12) and per property of the hypothesis suites (default 25);
* ``KINTO_FUZZ_RANDOM=1``: a new random seed each run instead of the fixed,
  reproducible one (the default, so that CI runs are repeatable).
"""

from __future__ import annotations

import os

import hypothesis
from hypothesis import HealthCheck, Phase


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def examples(default: int) -> int:
    return int(os.environ.get("KINTO_FUZZ_EXAMPLES", default))


def randomized() -> bool:
    return _flag("KINTO_FUZZ_RANDOM")


def search(default_examples: int) -> hypothesis.settings:
    """Hypothesis settings of the suites: bounded, reproducible unless asked,
    no example database (CI starts from a fresh clone anyway)."""
    return hypothesis.settings(
        max_examples=examples(default_examples),
        deadline=None,
        derandomize=not randomized(),
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
