"""The live settings are read with the others, once, by ``load_settings``."""

from __future__ import annotations

import pytest

from kinto_clone.core.settings import InvalidSetting, load_settings


def test_live_settings_are_numbers_with_defaults() -> None:
    settings = load_settings({"kinto.live_max_subscribers": "12", "live_max_wait_seconds": ""})
    assert settings["live_max_subscribers"] == 12
    assert settings["kinto.live_max_subscribers"] == 12
    assert settings["live_max_wait_seconds"] == 60
    assert settings["live_heartbeat_seconds"] == 15
    assert settings["live_poll_interval_ms"] == 10


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1.5"])
@pytest.mark.parametrize(
    "name",
    [
        "live_max_subscribers",
        "live_max_wait_seconds",
        "live_heartbeat_seconds",
        "live_poll_interval_ms",
    ],
)
def test_a_live_setting_must_be_a_positive_number(name: str, value: str) -> None:
    with pytest.raises(InvalidSetting, match=f"kinto.{name} = '{value}' is not valid"):
        load_settings({f"kinto.{name}": value})
