"""The ``kinto`` command: the same subcommands, options and exit codes as Kinto's.

Scripts and container images written for Kinto call ``kinto start``, ``kinto
migrate`` and friends; they must keep working when this server replaces it.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import re
import secrets
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from string import Template
from typing import Any, NoReturn

import bcrypt
import hupper  # not a direct dependency: pyramid requires it for `pserve --reload`
import waitress
from pyramid.exceptions import (
    ConfigurationConflictError,
    ConfigurationError,
    ConfigurationExecutionError,
)
from pyramid.settings import asbool

from kinto_clone import configuration, workers
from kinto_clone.core import transaction
from kinto_clone.core.dotted import canonical_name
from kinto_clone.core.live import serving
from kinto_clone.core.unsupported_settings import UnsupportedSetting

logger = logging.getLogger("kinto_clone.cli")

DEFAULT_INI = "config/kinto.ini"
DISTRIBUTION = "kinto-clone"

# Exit codes of Kinto's create-user, which provisioning scripts test for.
EXIT_READONLY = 51
EXIT_NO_ACCOUNTS = 52
EXIT_ABORTED = 53

# Same rule as the accounts plugin's ids: what create-user accepts must be reachable
# at /v1/accounts/<name>.
USERNAME_PATTERN = re.compile(r"^[a-zA-Z0-9][+.@a-zA-Z0-9_-]*$")

SQLITE_URL = "sqlite:///%(here)s/data/kinto.db"
POSTGRESQL_URL = "postgresql://postgres@localhost/postgres"
STORAGE_BACKENDS: Mapping[str, Mapping[str, str]] = {
    "sqlite": {
        "storage_backend": "kinto_clone.core.storage.sqlite",
        "storage_url": SQLITE_URL,
        "permission_backend": "kinto_clone.core.permission.sqlite",
        "permission_url": SQLITE_URL,
    },
    "memory": {
        "storage_backend": "kinto.core.storage.memory",
        "storage_url": "",
        "permission_backend": "kinto.core.permission.memory",
        "permission_url": "",
    },
    "postgresql": {
        "storage_backend": "kinto.core.storage.postgresql",
        "storage_url": POSTGRESQL_URL,
        "permission_backend": "kinto.core.permission.postgresql",
        "permission_url": POSTGRESQL_URL,
    },
}
CACHE_BACKENDS: Mapping[str, Mapping[str, str]] = {
    "sqlite": {"cache_backend": "kinto_clone.core.cache.sqlite", "cache_url": SQLITE_URL},
    "memory": {"cache_backend": "kinto.core.cache.memory", "cache_url": ""},
    "postgresql": {"cache_backend": "kinto.core.cache.postgresql", "cache_url": POSTGRESQL_URL},
    # What Kinto's ``kinto init --cache-backend`` writes for these (Memcached
    # servers in ``cache_url``, read when ``cache_hosts`` is not set).
    "memcached": {"cache_backend": "kinto.core.cache.memcached", "cache_url": "127.0.0.1:11211"},
    "redis": {"cache_backend": "kinto.core.cache.redis", "cache_url": "redis://127.0.0.1/0"},
}
DEFAULT_BACKEND = "sqlite"


class CommandError(Exception):
    """A command cannot go on; the message is for the person who typed it."""


def _package_version() -> str:
    return metadata.version(DISTRIBUTION)


def _ask_choice(question: str, choices: Sequence[str], default: str) -> str:
    options = "/".join(choices)
    while True:
        try:
            answer = input(f"{question} [{options}] (default: {default}) ").strip().lower()
        except (EOFError, KeyboardInterrupt) as interrupted:
            raise CommandError("aborted, nothing written.") from interrupted
        if not answer:
            return default
        if answer in choices:
            return answer
        print(f"Please answer one of: {options}.", file=sys.stderr)


def render_ini(backend: str, cache_backend: str, host: str) -> str:
    """The text of a fresh ini: chosen backends and new random secrets."""
    template = Path(__file__).with_name("templates") / "kinto.ini.tpl"
    values = {
        "version": _package_version(),
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": host,
        "userid_hmac_secret": secrets.token_hex(32),
        "default_bucket_hmac_secret": secrets.token_hex(32),
        **STORAGE_BACKENDS[backend],
        **CACHE_BACKENDS[cache_backend],
    }
    return Template(template.read_text(encoding="utf-8")).substitute(values)


def command_init(args: argparse.Namespace) -> int:
    path = Path(args.ini_file)
    if path.exists():
        raise CommandError(f"{path} already exists; remove it or choose another --ini.")
    interactive = sys.stdin.isatty()
    backend = args.backend
    if backend is None:
        backend = (
            _ask_choice("Storage backend?", list(STORAGE_BACKENDS), DEFAULT_BACKEND)
            if interactive
            else DEFAULT_BACKEND
        )
    cache_backend = args.cache_backend
    if cache_backend is None:
        cache_backend = (
            _ask_choice("Cache backend?", list(CACHE_BACKENDS), backend)
            if interactive
            else backend
        )
    text = render_ini(backend, cache_backend, args.host)
    path.parent.mkdir(parents=True, exist_ok=True)
    if "sqlite" in (backend, cache_backend):
        (path.parent / "data").mkdir(exist_ok=True)
    # Exclusive creation: never clobber a file that appeared since the check above.
    with path.open("x", encoding="utf-8") as stream:
        stream.write(text)
    print(f"Created {path.resolve()} ({backend} storage, {cache_backend} cache).")
    return 0


def _read_ini(args: argparse.Namespace) -> configuration.IniFile:
    port = getattr(args, "port", None) or configuration.DEFAULT_HTTP_PORT
    ini = configuration.read_ini(args.ini_file, {"http_port": str(port)})
    configuration.setup_logging(ini)
    if args.verbosity is not None:
        logging.getLogger().setLevel(args.verbosity)
    return ini


def _make_app(
    ini: configuration.IniFile, migrating: bool = False, settings: Mapping[str, str] | None = None
) -> Any:
    """The application, its database required to be reachable now.

    A command has nothing to do without its database, so an unreachable one
    stops it with a message (a WSGI container's app only warns, and waits).
    ``migrating`` skips the schema check, so ``migrate`` can run on an outdated
    or missing schema; every other command gets SQLite's schema created as
    ``start`` does.
    """
    from kinto_clone.core.sql.schema import REQUIRE_DATABASE

    overrides = {**(settings or {}), REQUIRE_DATABASE: "true"}
    if migrating:
        overrides["kinto.skip_schema_check"] = "true"
    return configuration.make_app(ini, overrides=overrides)


def _build_registry(args: argparse.Namespace, migrating: bool = False) -> Any:
    """The application registry, for commands that work on the backends directly."""
    return _make_app(_read_ini(args), migrating).registry


def _is_readonly(registry: Any) -> bool:
    return asbool(registry.settings.get("readonly", False))


def _run_reloader(ini_file: str) -> None:
    """Restart the server whenever its code or ini changes (``start --reload``).

    Returns in the worker process; the monitoring parent never returns.
    """
    reloader = hupper.start_reloader("kinto_clone.__main__.main")
    reloader.watch_files([os.path.abspath(ini_file)])


def _stop_on_sigterm(signum: int, frame: object) -> NoReturn:
    # waitress shuts its worker threads down cleanly on SystemExit.
    raise SystemExit(0)


def _listen_urls(server: Any) -> list[str]:
    listening = getattr(server, "effective_listen", None) or [
        (server.effective_host, server.effective_port)
    ]
    urls = []
    for host, port in listening:
        shown = f"[{host}]" if ":" in str(host) else host
        urls.append(f"http://{shown}:{port}")
    return urls


def _create_server(app: Any, options: Mapping[str, str]) -> Any:
    """The waitress server, listening; a port it cannot take is the operator's to fix."""
    address = options.get("listen") or f"{options.get('host')}:{options.get('port')}"
    try:
        return waitress.create_server(
            app,
            map=serving.ParkingMap(),
            _dispatcher=serving.dispatcher(int(options["threads"])),
            **options,
        )
    except OSError as error:
        reason = error.strerror or str(error)
        raise CommandError(
            f"cannot listen on {address} ({reason}); stop what uses it, or choose another "
            "address with --host/--port or in [server:main]."
        ) from error
    except ValueError as error:  # waitress refusing an option of [server:main]
        raise CommandError(f"[{configuration.SERVER_SECTION}]: {error}") from error


def command_start(args: argparse.Namespace) -> int:
    if args.reload and args.workers is not None and workers.worker_count(args.workers) > 1:
        # Refused before the reloader starts: its monitor would outlive the error.
        raise CommandError("--reload and several workers cannot be combined")
    if args.reload:
        _run_reloader(args.ini_file)
    ini = _read_ini(args)
    options = configuration.server_options(ini.server_settings, host=args.host, port=args.port)
    count = workers.worker_count(options.pop(workers.WORKERS_OPTION, None))
    if args.workers is not None:
        count = workers.worker_count(args.workers)
    if count > 1:
        if args.reload:
            raise CommandError("--reload and several workers cannot be combined")
        return _start_workers(ini, options, count)
    app = _make_app(ini)
    server = _create_server(app, serving.waitress_options(options, app.registry.settings))
    for url in _listen_urls(server):
        print(f"Serving on {url}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    server.run()
    return 0


def _start_workers(ini: configuration.IniFile, options: dict[str, Any], count: int) -> int:
    """Serve with ``count`` processes on shared sockets (:mod:`kinto_clone.workers`)."""
    settings = configuration.apply_environment(ini.app_settings, os.environ, {})
    storage_url = settings.get("kinto.storage_url") or settings.get("storage_url") or ""
    unprefixed = {key.removeprefix("kinto."): value for key, value in settings.items()}
    threads = int(options.get("threads") or serving.WAITRESS_THREADS)
    pools = workers.pool_defaults(
        unprefixed, count, threads, workers.postgresql_max_connections(storage_url)
    )
    app = _make_app(ini, settings={f"kinto.{name}": value for name, value in pools.items()})
    workers.refuse_per_process_backends(app.registry, count)
    options = serving.waitress_options(options, app.registry.settings)
    sockets = workers.bind_sockets(options)
    for sock in sockets:
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        print(f"Serving on http://{shown}:{port} with {count} workers", file=sys.stderr)
    sys.stderr.flush()
    supervisor = workers.Supervisor(
        app, options, sockets, count, before_fork=lambda: workers.close_connections(app.registry)
    )
    return supervisor.run()


def command_migrate(args: argparse.Namespace) -> int:
    registry = _build_registry(args, migrating=True)
    readonly = _is_readonly(registry)
    verb = "would run" if args.dry_run else "ran"
    backends = {
        "cache": registry.cache,
        "storage": registry.storage,
        "permission": registry.permission,
    }
    for name, backend in backends.items():
        if readonly and name != "cache":
            logger.error("Cannot migrate the %s backend while in readonly mode.", name)
            continue
        try:
            steps = backend.initialize_schema(dry_run=args.dry_run)
        except Exception as error:
            if not _is_database_failure(error):
                raise
            raise CommandError(
                f"kinto.{name}_url: cannot use the database ({_first_line(error)}); "
                "start the database or correct the URL."
            ) from error
        for step in steps or []:
            print(f"{name}: {verb}: {step}")
        if not steps:
            print(f"{name}: schema up to date")
    for migration in getattr(registry, "migrations", []):
        for step in migration.initialize_schema(dry_run=args.dry_run) or []:
            print(f"{type(migration).__name__}: {verb}: {step}")
    return 0


def command_flush_cache(args: argparse.Namespace) -> int:
    registry = _build_registry(args)
    registry.cache.flush()
    print("Cache flushed.")
    return 0


def command_purge_deleted(args: argparse.Namespace) -> int:
    registry = _build_registry(args)
    count = 0
    with transaction.atomic():
        for resource_name in args.resources:
            count += registry.storage.purge_deleted(
                resource_name=resource_name, parent_id="*", max_retained=args.max_retained
            )
    print(f"{count} tombstone(s) deleted, at most {args.max_retained} kept per parent.")
    return 0


def _ask_username(username: str | None) -> str:
    while username is None or not USERNAME_PATTERN.match(username):
        if username is not None:
            print(
                f"{username!r} is not a valid username (it must match "
                f"{USERNAME_PATTERN.pattern}).",
                file=sys.stderr,
            )
        username = input("Username: ")
    return username


def _ask_password(username: str) -> str:
    while True:
        password = getpass.getpass(f"Password for {username}: ")
        if password == getpass.getpass("Confirm the password: "):
            return password
        print("The passwords differ, please try again.", file=sys.stderr)


def command_create_user(args: argparse.Namespace) -> int:
    registry = _build_registry(args)
    if _is_readonly(registry):
        logger.error("Cannot create a user on a readonly server.")
        return EXIT_READONLY
    includes = registry.settings.get("includes") or []
    if isinstance(includes, str):
        includes = includes.split()
    if "kinto_clone.plugins.accounts" not in {canonical_name(name) for name in includes}:
        logger.error("Cannot create a user: the kinto.plugins.accounts plugin is not included.")
        return EXIT_NO_ACCOUNTS
    try:
        username = _ask_username(args.username)
        password = args.password if args.password is not None else _ask_password(username)
    except (EOFError, KeyboardInterrupt):
        print("\nUser creation aborted.", file=sys.stderr)
        return EXIT_ABORTED

    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")
    with transaction.atomic():
        registry.storage.update(
            resource_name="account",
            parent_id=username,
            object_id=username,
            obj={"id": username, "password": hashed},
        )
        registry.permission.add_principal_to_ace(
            f"/accounts/{username}", "write", f"account:{username}"
        )
    print(f"User {username!r} saved.")
    return 0


def command_version(args: argparse.Namespace) -> int:
    print(_package_version())
    return 0


COMMANDS: Mapping[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "init": (command_init, "write a new configuration file"),
    "start": (command_start, "run the HTTP server"),
    "migrate": (command_migrate, "create or upgrade the backends' schemas"),
    "flush-cache": (command_flush_cache, "empty the cache backend"),
    "version": (command_version, "print the version"),
    "create-user": (command_create_user, "create an account or reset its password"),
    "purge-deleted": (command_purge_deleted, "remove old tombstones"),
}


def _add_command_options(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "init":
        parser.add_argument("--backend", choices=list(STORAGE_BACKENDS), default=None)
        parser.add_argument("--cache-backend", choices=list(CACHE_BACKENDS), default=None)
        parser.add_argument(
            "--host", default=configuration.DEFAULT_HOST, help="address the server listens on"
        )
    elif name == "start":
        parser.add_argument(
            "--reload", action="store_true", help="restart when code or configuration changes"
        )
        parser.add_argument("--port", type=int, default=None, help="port to listen on")
        parser.add_argument("--host", default=None, help="address to listen on")
        parser.add_argument(
            "--workers",
            default=None,
            help="server processes sharing the listening socket (default: [server:main] "
            "workers, else 1); SQLite and PostgreSQL backends only",
        )
    elif name == "migrate":
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would be done, change nothing"
        )
    elif name == "create-user":
        parser.add_argument("-u", "--username", default=None)
        parser.add_argument("-p", "--password", default=None)
    elif name == "purge-deleted":
        parser.add_argument(
            "resources", nargs="+", help="resource names, e.g. record collection group bucket"
        )
        parser.add_argument(
            "max_retained",
            metavar="max-retained",
            type=int,
            help="tombstones to keep per resource and parent",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kinto", description="Kinto-compatible server")
    subparsers = parser.add_subparsers(title="subcommands", dest="command", required=True)
    default_ini = os.environ.get("KINTO_INI", DEFAULT_INI)
    for name, (_, summary) in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=summary, description=summary)
        subparser.add_argument(
            "--ini",
            dest="ini_file",
            default=default_ini,
            help=f"configuration file (default: {default_ini}, or $KINTO_INI)",
        )
        subparser.add_argument(
            "-q",
            "--quiet",
            dest="verbosity",
            action="store_const",
            const=logging.CRITICAL,
            help="show only critical errors",
        )
        subparser.add_argument(
            "-v",
            "--debug",
            dest="verbosity",
            action="store_const",
            const=logging.DEBUG,
            help="show debug messages too",
        )
        _add_command_options(name, subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kinto`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    handler, _ = COMMANDS[args.command]
    try:
        return handler(args)
    except Exception as error:
        reason = _for_the_operator(error)
        if reason is None:
            raise
        print(f"kinto {args.command}: {_one_line(str(reason))}", file=sys.stderr)
        return 1


def _first_line(error: BaseException) -> str:
    """The driver's own words, without the hints it adds on further lines."""
    original = getattr(error, "original", None) or error
    lines = str(original).strip().splitlines()
    return lines[0].strip() if lines else type(original).__name__


def _one_line(message: str) -> str:
    return re.sub(r"\s*\n\s*", " ", message.strip())


def _is_database_failure(error: BaseException) -> bool:
    # Looked up rather than imported: ``kinto version`` and ``init`` need not
    # pay for importing the backends, and when they are not loaded no error
    # can come from them.
    storage = sys.modules.get("kinto_clone.core.storage")
    return storage is not None and isinstance(error, storage.BackendError)


def _for_the_operator(error: BaseException) -> BaseException | str | None:
    """What to print instead of a traceback, or ``None`` for a bug.

    The operator's errors are bad command lines, ini files and settings, a port
    already taken, and databases that are unreachable or hold a schema the
    server cannot use (missing, outdated, newer, created by Kinto): the message
    says what to fix, and a traceback would only bury it.  Pyramid wraps what an
    action raised in a ``ConfigurationExecutionError``; its conflicts between
    two registrations are bugs of the code, not of the configuration.
    """
    if isinstance(error, ConfigurationExecutionError):
        return _for_the_operator(error.evalue)
    if isinstance(error, ConfigurationConflictError):
        return None
    operator_errors = (
        CommandError,
        configuration.ConfigurationError,
        ConfigurationError,
        UnsupportedSetting,
        workers.WorkersError,
    )
    if isinstance(error, operator_errors):
        return error
    if _is_database_failure(error):
        return (
            f"cannot use the database ({_first_line(error)}); check the kinto.*_url "
            "settings and that the database is running."
        )
    return None


if __name__ == "__main__":
    sys.exit(main())
