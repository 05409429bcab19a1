"""Re-export of :mod:`kinto_clone.core.storage.generators` under Kinto's path."""

from kinto_clone.core.storage.generators import *  # noqa: F403
from kinto_clone.core.storage.generators import UUID4, Generator, NameGenerator, RelaxedUUID  # noqa: F401
