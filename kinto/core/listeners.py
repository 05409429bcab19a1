"""Re-export of :mod:`kinto_clone.core.listeners` under Kinto's module path.

Listener modules written for Kinto subclass ``kinto.core.listeners.ListenerBase``.
"""

from kinto_clone.core.listeners import ListenerBase  # noqa: F401
