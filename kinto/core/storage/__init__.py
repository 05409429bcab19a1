"""Re-export of :mod:`kinto_clone.core.storage` under Kinto's module path."""

from kinto_clone.core.storage import *  # noqa: F403
from kinto_clone.core.storage import generators  # noqa: F401
