from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from logging_color_formatter import ColorFormatter

import kinto_clone
from kinto_clone import configuration
from kinto_clone.configuration import (
    ConfigurationError,
    apply_environment,
    environment_variable,
    read_ini,
    server_options,
)
from kinto_clone.core.logs import StreamHandlerWithRequestID

FIXTURES = Path(__file__).parent / "fixtures"
KINTO_INI = FIXTURES / "kinto-26.5.0-memory.ini"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def ini_path(tmp_path: Path) -> Path:
    return write(
        tmp_path / "app.ini",
        """
[DEFAULT]
shared = from-defaults

[server:main]
use = egg:waitress#main
host = 0.0.0.0
port = %(http_port)s

[app:main]
use = egg:kinto
kinto.storage_url = sqlite:///%(here)s/data/kinto.db
kinto.config_file = %(__file__)s
kinto.uses_shared = %(shared)s
Kinto.Mixed_Case = kept
kinto.includes = kinto.plugins.default_bucket
                 kinto.plugins.accounts
""",
    )


class TestReadIni:
    def test_interpolates_here_file_and_variables(self, ini_path: Path) -> None:
        ini = read_ini(ini_path, {"http_port": "9999"})
        assert (
            ini.app_settings["kinto.storage_url"] == f"sqlite:///{ini_path.parent}/data/kinto.db"
        )
        assert ini.app_settings["kinto.config_file"] == str(ini_path)
        assert ini.server_settings == {
            "use": "egg:waitress#main",
            "host": "0.0.0.0",
            "port": "9999",
        }

    def test_defaults_go_to_global_config_only(self, ini_path: Path) -> None:
        ini = read_ini(ini_path, {"http_port": "1"})
        assert ini.app_settings["kinto.uses_shared"] == "from-defaults"
        assert "shared" not in ini.app_settings
        assert "here" not in ini.app_settings
        assert ini.global_config["shared"] == "from-defaults"
        assert ini.global_config["here"] == str(ini_path.parent)
        assert ini.global_config["__file__"] == str(ini_path)
        assert ini.global_config["http_port"] == "1"

    def test_keeps_case_and_multiline_values(self, ini_path: Path) -> None:
        settings = read_ini(ini_path, {"http_port": "1"}).app_settings
        assert settings["Kinto.Mixed_Case"] == "kept"
        assert settings["kinto.includes"].split() == [
            "kinto.plugins.default_bucket",
            "kinto.plugins.accounts",
        ]
        assert "use" not in settings

    @pytest.mark.parametrize(
        "use",
        [
            "egg:kinto",
            "egg:kinto#main",
            "egg:kinto-clone",
            "egg:kinto_clone",
            "egg:kinto_clone#main",
            "call:kinto_clone:main",
        ],
    )
    def test_accepts_every_name_of_this_app(self, tmp_path: Path, use: str) -> None:
        path = write(tmp_path / "a.ini", f"[app:main]\nuse = {use}\nkinto.x = 1\n")
        assert read_ini(path).app_settings == {"kinto.x": "1"}

    def test_rejects_another_app(self, tmp_path: Path) -> None:
        path = write(tmp_path / "a.ini", "[app:main]\nuse = egg:someoneelse\n")
        with pytest.raises(ConfigurationError, match="use = egg:someoneelse"):
            read_ini(path)

    def test_requires_an_app_section(self, tmp_path: Path) -> None:
        path = write(tmp_path / "a.ini", "[server:main]\nport = 1\n")
        with pytest.raises(ConfigurationError, match=r"no \[app:main\] section"):
            read_ini(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="not found"):
            read_ini(tmp_path / "nowhere.ini")

    def test_unknown_variable_is_a_clear_error(self, tmp_path: Path) -> None:
        path = write(tmp_path / "a.ini", "[app:main]\nkinto.x = %(nope)s\n")
        with pytest.raises(ConfigurationError, match=r"\[app:main\] kinto.x"):
            read_ini(path)

    def test_syntax_error_is_a_clear_error(self, tmp_path: Path) -> None:
        path = write(tmp_path / "a.ini", "[app:main]\nkinto.x = 1\nkinto.x = 2\n")
        with pytest.raises(ConfigurationError, match=r"kinto\.x"):
            read_ini(path)

    def test_reads_kinto_own_template_output(self) -> None:
        ini = read_ini(KINTO_INI, {"http_port": "8888"})
        assert ini.server_settings["port"] == "8888"
        assert ini.app_settings["kinto.storage_backend"] == "kinto.core.storage.memory"
        assert len(ini.app_settings["kinto.userid_hmac_secret"]) == 64
        assert ini.has_logging


class TestEnvironment:
    @pytest.mark.parametrize(
        ("setting", "variable"),
        [
            ("kinto.storage_url", "KINTO_STORAGE_URL"),
            ("batch_max_requests", "KINTO_BATCH_MAX_REQUESTS"),
            ("multiauth.policy.account.use", "KINTO_MULTIAUTH_POLICY_ACCOUNT_USE"),
            ("kinto.my-plugin.option", "KINTO_MY_PLUGIN_OPTION"),
        ],
    )
    def test_variable_names(self, setting: str, variable: str) -> None:
        assert environment_variable(setting) == variable

    def test_environment_wins_over_the_ini(self) -> None:
        settings = {"kinto.paginate_by": "10", "multiauth.policies": "account"}
        environ = {"KINTO_PAGINATE_BY": "20", "KINTO_MULTIAUTH_POLICIES": "basicauth"}
        assert apply_environment(settings, environ) == {
            "kinto.paginate_by": "20",
            "multiauth.policies": "basicauth",
        }

    def test_known_settings_absent_from_the_ini(self) -> None:
        result = apply_environment({}, {"KINTO_BATCH_MAX_REQUESTS": "7"}, ["batch_max_requests"])
        assert result == {"kinto.batch_max_requests": "7"}

    def test_unmatched_variables_are_ignored(self) -> None:
        environ = {"KINTO_INI": "x.ini", "KINTO_UNKNOWN": "1", "PAGINATE_BY": "3"}
        assert apply_environment({"kinto.paginate_by": "10"}, environ) == {
            "kinto.paginate_by": "10"
        }

    def test_does_not_modify_its_input(self) -> None:
        settings = {"kinto.readonly": "false"}
        apply_environment(settings, {"KINTO_READONLY": "true"})
        assert settings == {"kinto.readonly": "false"}


class TestServerOptions:
    def test_defaults_to_loopback_and_kinto_port(self) -> None:
        assert server_options({}) == {"host": "127.0.0.1", "port": "8888"}

    def test_passes_waitress_options_through(self) -> None:
        ini = {"use": "egg:waitress#main", "host": "::1", "port": "80", "threads": "8"}
        assert server_options(ini) == {"host": "::1", "port": "80", "threads": "8"}

    def test_command_line_wins(self) -> None:
        ini = {"host": "127.0.0.1", "port": "80"}
        assert server_options(ini, host="0.0.0.0", port=9000) == {
            "host": "0.0.0.0",
            "port": "9000",
        }

    def test_listen_is_kept_without_overrides(self) -> None:
        assert server_options({"listen": "127.0.0.1:81 [::1]:81"}) == {
            "listen": "127.0.0.1:81 [::1]:81"
        }

    def test_overriding_the_port_of_a_listen_setting(self) -> None:
        assert server_options({"listen": "[::1]:81"}, port=82) == {"host": "::1", "port": "82"}

    def test_rejects_other_servers(self) -> None:
        with pytest.raises(ConfigurationError, match="only waitress"):
            server_options({"use": "egg:gunicorn#main"})


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """fileConfig replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    kinto_logger = logging.getLogger("kinto")
    saved_kinto = (kinto_logger.handlers[:], kinto_logger.level, kinto_logger.propagate)
    yield
    for handler in {*root.handlers, *kinto_logger.handlers} - {*saved[0], *saved_kinto[0]}:
        handler.close()
    root.handlers[:], root.level = saved
    kinto_logger.handlers[:], kinto_logger.level, kinto_logger.propagate = saved_kinto


@pytest.mark.usefixtures("restore_logging")
class TestSetupLogging:
    def test_kinto_logging_classes_are_the_real_ones(self, tmp_path: Path) -> None:
        path = Path(shutil.copy(KINTO_INI, tmp_path / "kinto.ini"))
        configuration.setup_logging(read_ini(path, {"http_port": "1"}))

        handler = logging.getLogger("kinto").handlers[0]
        assert type(handler) is StreamHandlerWithRequestID
        assert type(handler.formatter) is ColorFormatter

    def test_a_class_that_cannot_be_imported_stops_the_start(self, tmp_path: Path) -> None:
        text = Path(KINTO_INI).read_text(encoding="utf-8")
        path = tmp_path / "kinto.ini"
        path.write_text(text.replace("kinto.core.JsonLogFormatter", "nowhere.Formatter"))
        with pytest.raises(ConfigurationError, match=r"\[formatter_json\] class = nowhere"):
            configuration.setup_logging(read_ini(path, {"http_port": "1"}))

    def test_uses_the_ini_format(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = write(
            tmp_path / "a.ini",
            """
[app:main]
[loggers]
keys = root
[handlers]
keys = console
[formatters]
keys = plain
[logger_root]
level = WARNING
handlers = console
[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = plain
[formatter_plain]
format = custom|%(levelname)s|%(message)s
""",
        )
        configuration.setup_logging(read_ini(path))
        logging.getLogger("kinto_clone.test").warning("hello")
        logging.getLogger("kinto_clone.test").info("hidden")
        assert capsys.readouterr().err == "custom|WARNING|hello\n"


class TestLoadApp:
    def test_builds_the_app_with_environment_applied(
        self, ini_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls: list[tuple[dict[str, str], dict[str, Any]]] = []

        def fake_main(global_config: dict[str, str], **settings: Any) -> str:
            calls.append((global_config, settings))
            return "the app"

        monkeypatch.setattr(kinto_clone, "main", fake_main, raising=False)
        environ = {"KINTO_BATCH_MAX_REQUESTS": "7", "KINTO_UNKNOWN_THING": "x"}

        app, server = configuration.load_app(ini_path, environ=environ)

        assert app == "the app"
        assert server["port"] == "8888"
        global_config, settings = calls[0]
        assert global_config["here"] == str(ini_path.parent)
        assert settings["kinto.batch_max_requests"] == "7"
        assert settings["kinto.storage_url"].endswith("/data/kinto.db")
        assert "kinto.unknown_thing" not in settings

    def test_overrides_win(self, ini_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(kinto_clone, "main", lambda g, **s: s, raising=False)
        ini = read_ini(ini_path, {"http_port": "1"})
        settings = configuration.make_app(
            ini,
            environ={"KINTO_SKIP_SCHEMA_CHECK": "false"},
            overrides={"kinto.skip_schema_check": "true"},
        )
        assert settings["kinto.skip_schema_check"] == "true"
