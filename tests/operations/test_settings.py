"""No silent settings: Kinto settings not honoured here stop the start, named."""

from __future__ import annotations

from pathlib import Path

import pytest
import webtest
from pyramid.exceptions import ConfigurationError

import kinto_clone
from kinto_clone.core.unsupported_settings import UNSUPPORTED
from tests.server import StartServer

BASE = {"multiauth.policies": "basicauth", "kinto.userid_hmac_secret": "settings-tests"}


def make_app(**settings: str) -> webtest.TestApp:
    return webtest.TestApp(kinto_clone.main({}, **{**BASE, **settings}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("kinto.newrelic_config", "/etc/newrelic.ini"),
        ("kinto.profiler_enabled", "true"),
        ("kinto.initialization_sequence", "my.step"),
        ("kinto.storage_max_backlog", "10"),
        ("settings_prefix", "other"),
        ("multiauth.authorization_policy", "my.Policy"),
    ],
)
def test_unsupported_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{name} = {value}: .* not supported"):
        make_app(**{name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("kinto.profiler_enabled", "false"),
        ("kinto.storage_max_backlog", "-1"),
        ("kinto.settings_prefix", "kinto"),
        ("multiauth.authorization_policy", "kinto.authorization.AuthorizationPolicy"),
        ("kinto.json_renderer", "ultrajson"),
    ],
)
def test_values_that_change_nothing_are_accepted(name: str, value: str) -> None:
    make_app(**{name: value})


def test_every_entry_says_why() -> None:
    assert all(entry.reason for entry in UNSUPPORTED.values())


@pytest.mark.process
def test_the_start_fails_with_one_line(start_server: StartServer, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as error:
        start_server({"kinto.newrelic_config": "newrelic.ini"})
    lines = [line for line in str(error.value).splitlines() if "newrelic_config" in line]
    assert len(lines) == 1
    assert lines[0].startswith("kinto start: kinto.newrelic_config = newrelic.ini")


class TestKintoSettingsNowHonoured:
    def test_cors_max_age_on_preflight(self) -> None:
        app = make_app(**{"kinto.cors_max_age_seconds": "60"})
        preflight = {"Origin": "http://example.com", "Access-Control-Request-Method": "GET"}
        response = app.options("/v1/buckets", headers=preflight)
        assert response.headers["Access-Control-Max-Age"] == "60"
        assert "Access-Control-Max-Age" not in app.get("/v1/").headers

    def test_cors_max_age_default_and_off(self) -> None:
        preflight = {"Origin": "http://example.com", "Access-Control-Request-Method": "GET"}
        assert (
            make_app().options("/v1/", headers=preflight).headers["Access-Control-Max-Age"]
            == "3600"
        )
        off = make_app(**{"kinto.cors_max_age_seconds": "0"})
        assert "Access-Control-Max-Age" not in off.options("/v1/", headers=preflight).headers

    def test_root_cached_when_readonly(self) -> None:
        app = make_app(**{"kinto.readonly": "true", "kinto.root_cache_expires_seconds": "120"})
        assert app.get("/v1/").headers["Cache-Control"] == "max-age=120"
        assert "Cache-Control" not in make_app().get("/v1/").headers
