"""The settings of live changes, read once when the application is built."""

from __future__ import annotations

from typing import Any

from kinto_clone.core.settings import InvalidSetting

DEFAULTS = {
    "live_max_subscribers": 1000,
    "live_max_wait_seconds": 60,
    "live_heartbeat_seconds": 15,
    "live_poll_interval_ms": 10,
}


def live_settings(settings: dict[str, Any]) -> dict[str, int]:
    """The four live settings, as positive integers (``kinto.`` prefix optional)."""
    values = {}
    for name, default in DEFAULTS.items():
        raw = settings.get(name, settings.get(f"kinto.{name}"))
        try:
            value = default if raw in (None, "") else int(raw)
        except (TypeError, ValueError):
            value = -1
        if value < 1:
            raise InvalidSetting(f"kinto.{name} = {raw!r} is not valid: write a positive number.")
        values[name] = value
    return values
