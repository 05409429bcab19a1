"""A listener module for the tests, written as a Kinto listener would be.

``load_from_config`` keeps every listener it builds on the registry
(``registry.recording_listeners[prefix]``) so tests can look at what it received.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from kinto.core.listeners import ListenerBase


class Recorder(ListenerBase):
    def __init__(self, prefix: str, settings: dict[str, Any]) -> None:
        super().__init__()
        self.prefix = prefix
        self.fail = settings.get(prefix + "fail") == "true"
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        if self.fail:
            raise RuntimeError("listener failure")


def load_from_config(config: Configurator, prefix: str) -> Recorder:
    recorder = Recorder(prefix, config.get_settings())
    registry = config.registry
    if not hasattr(registry, "recording_listeners"):
        registry.recording_listeners = {}
    registry.recording_listeners[prefix] = recorder
    return recorder
