"""Turning an ini file (written for Kinto or for this server) into a running app.

Kinto starts through PasteDeploy and ``pserve``; this server reads the same files
with :mod:`configparser` alone, reproducing the parts of PasteDeploy those files
rely on: ``%(here)s``/``%(__file__)s``/``%(http_port)s`` interpolation, the
``[app:main]`` settings, the ``[server:main]`` waitress options and the optional
``logging.config`` sections.  Environment variables ``KINTO_<NAME>`` override
settings, so a container can be configured without editing its ini.
"""

from __future__ import annotations

import importlib
import logging
import logging.config
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from configparser import ConfigParser
from configparser import Error as ConfigParserError
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

APP_SECTION = "app:main"
SERVER_SECTION = "server:main"
SETTINGS_PREFIX = "kinto."
ENV_PREFIX = "KINTO_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 8888

# Every spelling of "this application" an ini may carry: Kinto's own inis say
# ``egg:kinto``; ``#main`` is PasteDeploy's default entry point name.
APP_USES = frozenset(
    {
        "egg:kinto",
        "egg:kinto-clone",
        "egg:kinto_clone",
        "call:kinto_clone:main",
    }
)
WAITRESS_USES = frozenset({"egg:waitress", "call:waitress:serve_paste"})

# Without logging sections in the ini.
DEFAULT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"

WSGIApp = Callable[..., Any]


class ConfigurationError(Exception):
    """The ini cannot start this server; the message says what to change."""


@dataclass(frozen=True)
class IniFile:
    """What an ini file says, interpolated, split the way PasteDeploy splits it."""

    path: Path
    global_config: dict[str, str]
    """``here``, ``__file__``, the ``[DEFAULT]`` section and the caller's variables."""
    app_settings: dict[str, str]
    """Options of ``[app:main]`` except ``use`` and the inherited defaults."""
    server_settings: dict[str, str]
    """Options of ``[server:main]`` (``use`` included); empty when absent."""
    has_logging: bool
    """Whether the file configures :mod:`logging` (a ``[loggers]`` section)."""


def _normalise_use(value: str) -> str:
    use = value.strip()
    return use.removesuffix("#main")


def _section(parser: ConfigParser, name: str, path: Path) -> dict[str, str]:
    defaults = parser.defaults()
    values = {}
    for option in parser.options(name):
        # PasteDeploy leaves global defaults out of an app's local settings.
        if option in defaults:
            continue
        try:
            values[option] = parser.get(name, option)
        except ConfigParserError as error:
            raise ConfigurationError(f"{path}: [{name}] {option}: {error}") from error
    return values


def read_ini(path: str | os.PathLike[str], variables: Mapping[str, str] | None = None) -> IniFile:
    """Parse ``path`` like PasteDeploy would.

    ``variables`` are extra interpolation defaults, as ``pserve`` passes them on its
    command line; Kinto's template relies on ``http_port`` being one.
    """
    ini_path = Path(path).resolve()
    if not ini_path.is_file():
        raise ConfigurationError(
            f"Configuration file not found: {path}; create one with `kinto init --ini {path}` "
            "or name an existing one with --ini."
        )
    defaults = {"here": str(ini_path.parent), "__file__": str(ini_path), **(variables or {})}
    parser = ConfigParser(defaults=defaults)
    # Setting names are case-sensitive in PasteDeploy; keep them as written.
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        with ini_path.open(encoding="utf-8") as stream:
            parser.read_file(stream)
    except ConfigParserError as error:
        raise ConfigurationError(f"{path} is not a valid ini file: {error}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{path} cannot be read: {error}") from error

    if not parser.has_section(APP_SECTION):
        raise ConfigurationError(
            f"{path}: no [{APP_SECTION}] section; add one holding the kinto.* settings "
            "(`kinto init` writes a complete file)."
        )
    app_settings = _section(parser, APP_SECTION, ini_path)
    use = app_settings.pop("use", None)
    if use is not None and _normalise_use(use) not in APP_USES:
        accepted = ", ".join(sorted(APP_USES))
        raise ConfigurationError(
            f"{path}: [{APP_SECTION}] use = {use} names another application; "
            f"this server runs only itself ({accepted})"
        )
    server_settings = (
        _section(parser, SERVER_SECTION, ini_path) if parser.has_section(SERVER_SECTION) else {}
    )
    global_config = {}
    for name in parser.defaults():
        try:
            global_config[name] = parser.get(parser.default_section, name)
        except ConfigParserError as error:
            raise ConfigurationError(f"{path}: [DEFAULT] {name}: {error}") from error
    return IniFile(
        path=ini_path,
        global_config=global_config,
        app_settings=app_settings,
        server_settings=server_settings,
        has_logging=parser.has_section("loggers"),
    )


def environment_variable(setting: str) -> str:
    """The variable overriding ``setting``: ``kinto.storage_url`` -> ``KINTO_STORAGE_URL``."""
    name = setting.removeprefix(SETTINGS_PREFIX)
    return ENV_PREFIX + name.replace(".", "_").replace("-", "_").upper()


def apply_environment(
    settings: Mapping[str, Any], environ: Mapping[str, str], known: Iterable[str] = ()
) -> dict[str, Any]:
    """Return ``settings`` with every ``KINTO_<NAME>`` variable of ``environ`` applied.

    A variable only overrides a setting it can be matched to: one present in
    ``settings`` (either spelling, ``kinto.x`` or ``x``) or listed in ``known``
    (the defaults), because the variable name alone cannot tell ``x.y`` from
    ``x_y``.  Values stay strings, exactly as if written in the ini, so they are
    validated and converted in the same place.
    """
    result = dict(settings)
    names = {key.removeprefix(SETTINGS_PREFIX) for key in (*settings, *known)}
    for name in sorted(names):
        value = environ.get(environment_variable(name))
        if value is None:
            continue
        targets = [key for key in (SETTINGS_PREFIX + name, name) if key in settings]
        for key in targets or [SETTINGS_PREFIX + name]:
            result[key] = value
    return result


def _importable(dotted: str) -> bool:
    module_name, _, attribute = dotted.strip().rpartition(".")
    if not module_name:
        return False
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    return hasattr(module, attribute)


def _is_logging_builtin(name: str) -> bool:
    # fileConfig evaluates handler classes in the namespace of :mod:`logging`, so
    # ``StreamHandler`` and ``handlers.RotatingFileHandler`` need no import.
    head = name.strip().split(".", 1)[0]
    return head in vars(logging) or head == "logging"


def setup_logging(ini: IniFile) -> None:
    """Configure :mod:`logging` from the ini's sections, or plainly when it has none.

    Kinto's classes (``kinto.core.JsonLogFormatter``,
    ``kinto.core.StreamHandlerWithRequestID``, ``logging_color_formatter.ColorFormatter``)
    are the real ones; a class that cannot be imported stops the start, named.
    """
    if not ini.has_logging:
        logging.basicConfig(level=logging.INFO, format=DEFAULT_FORMAT)
        return
    parser = ConfigParser(defaults={"here": str(ini.path.parent), "__file__": str(ini.path)})
    with ini.path.open(encoding="utf-8") as stream:
        parser.read_file(stream)
    for section in parser.sections():
        if not section.startswith(("formatter_", "handler_")):
            continue
        class_name = parser.get(section, "class", raw=True, fallback="")
        if class_name and not _is_logging_builtin(class_name) and not _importable(class_name):
            raise ConfigurationError(
                f"{ini.path}: [{section}] class = {class_name} cannot be imported"
            )
    try:
        logging.config.fileConfig(parser, disable_existing_loggers=False)
    except (ConfigParserError, KeyError, ValueError, TypeError, ImportError) as error:
        raise ConfigurationError(f"{ini.path}: invalid logging configuration: {error}") from error


def make_user_modules_importable(ini_path: Path) -> None:
    """Let settings name users' own modules (id generators, plugins).

    Kinto's tutorials drop such a module in the directory ``kinto start`` is run
    from; the console script's ``sys.path`` does not include it, so add that
    directory and the ini's one.
    """
    for folder in (str(Path.cwd()), str(Path(ini_path).resolve().parent)):
        if folder not in sys.path:
            sys.path.append(folder)


def make_app(
    ini: IniFile,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> WSGIApp:
    """Build the WSGI application from ``ini``, environment variables applied.

    ``overrides`` win over both; commands use them for internal switches.
    """
    from kinto_clone import main
    from kinto_clone.core.settings import DEFAULT_SETTINGS

    make_user_modules_importable(ini.path)
    settings = apply_environment(
        ini.app_settings, os.environ if environ is None else environ, DEFAULT_SETTINGS
    )
    settings.update(overrides or {})
    return main(dict(ini.global_config), **settings)


def load_app(
    ini_path: str | os.PathLike[str],
    *,
    variables: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[WSGIApp, dict[str, str]]:
    """The application and its ``[server:main]`` options, for WSGI containers.

    Logging is left alone: a container configures its own.
    """
    ini = read_ini(ini_path, {"http_port": str(DEFAULT_HTTP_PORT), **(variables or {})})
    return make_app(ini, environ=environ), ini.server_settings


def _split_listen(entry: str) -> tuple[str, str]:
    host, _, port = entry.strip().rpartition(":")
    return host.strip("[]") or DEFAULT_HOST, port


def server_options(
    server_settings: Mapping[str, str], host: str | None = None, port: int | None = None
) -> dict[str, str]:
    """Keyword arguments for :func:`waitress.create_server`.

    ``host``/``port`` (the ``start`` command line) win over the ini; waitress
    refuses ``listen`` together with them, so an overridden ``listen`` is dropped.
    """
    use = server_settings.get("use")
    if use is not None and _normalise_use(use) not in WAITRESS_USES:
        raise ConfigurationError(
            f"[{SERVER_SECTION}] use = {use}: only waitress (egg:waitress#main) is supported"
        )
    options = {key: value for key, value in server_settings.items() if key != "use"}
    listen = options.pop("listen", None)
    if listen and host is None and port is None:
        options["listen"] = listen
        return options
    listen_host, listen_port = _split_listen(listen.split()[0]) if listen else ("", "")
    options["host"] = host or options.get("host") or listen_host or DEFAULT_HOST
    options["port"] = str(port or options.get("port") or listen_port or DEFAULT_HTTP_PORT)
    if not options["port"].isdigit():
        raise ConfigurationError(
            f"[{SERVER_SECTION}] port = {options['port']!r} is not a port number; "
            f"write a number such as {DEFAULT_HTTP_PORT}."
        )
    return options
