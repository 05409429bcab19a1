"""The ``kinto`` command, run as users and scripts run it: a separate process."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import time
from importlib import metadata
from pathlib import Path

import pytest
import requests

from tests.server import KintoServer, StartServer, kinto_command, write_ini

pytestmark = pytest.mark.process

FIXTURES = Path(__file__).parent / "fixtures"
COMMANDS = (
    "init",
    "start",
    "migrate",
    "flush-cache",
    "version",
    "create-user",
    "purge-deleted",
)
SECRET_LINE = re.compile(r"^kinto\.(userid|default_bucket)_hmac_secret = ([0-9a-f]{64})$", re.M)


def kinto(*args: str, cwd: Path | None = None, input: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINTO_")}
    return subprocess.run(
        [*kinto_command(), *args],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_every_subcommand() -> None:
    result = kinto("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_takes_ini_and_verbosity(command: str) -> None:
    result = kinto(command, "--help")
    assert result.returncode == 0
    for option in ("--ini", "-q", "-v"):
        assert option in result.stdout


def test_version() -> None:
    result = kinto("version")
    assert result.returncode == 0
    assert result.stdout.strip() == metadata.version("kinto-clone")


def test_init_writes_fresh_secrets(tmp_path: Path) -> None:
    first, second = tmp_path / "one" / "kinto.ini", tmp_path / "two" / "kinto.ini"
    assert kinto("init", "--backend", "memory", "--ini", str(first)).returncode == 0
    assert kinto("init", "--backend", "memory", "--ini", str(second)).returncode == 0

    first_secrets = SECRET_LINE.findall(first.read_text())
    second_secrets = SECRET_LINE.findall(second.read_text())
    assert [name for name, _ in first_secrets] == ["userid", "default_bucket"]
    assert first_secrets[0][1] != first_secrets[1][1]
    assert not {s for _, s in first_secrets} & {s for _, s in second_secrets}
    assert "kinto.storage_backend = kinto.core.storage.memory" in first.read_text()


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "kinto.ini"
    path.write_text("mine")
    result = kinto("init", "--backend", "memory", "--ini", str(path))
    assert result.returncode != 0
    assert "already exists" in result.stderr
    assert path.read_text() == "mine"


def test_init_without_a_terminal_defaults_to_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "kinto.ini"
    assert kinto("init", "--ini", str(path)).returncode == 0
    text = path.read_text()
    assert "kinto.storage_backend = kinto_clone.core.storage.sqlite" in text
    assert "kinto.cache_backend = kinto_clone.core.cache.sqlite" in text
    assert "kinto.storage_url = sqlite:///%(here)s/data/kinto.db" in text


def test_init_sqlite_keeps_data_across_restarts(tmp_path: Path, start_server: StartServer) -> None:
    """``kinto init``'s default backend is durable: an account, its record and the
    record's permissions written before a restart are served after it."""
    path = tmp_path / "kinto.ini"
    assert kinto("init", "--ini", str(path)).returncode == 0
    server = start_server(ini_path=path)
    signup = {"data": {"password": "s3cret"}}
    response = requests.put(f"{server.url}/v1/accounts/alice", json=signup, timeout=5)
    assert response.status_code == 201
    records = "/v1/buckets/default/collections/tasks/records"
    response = requests.put(
        f"{server.url}{records}/first", json={"data": {"done": False}}, auth=ALICE, timeout=5
    )
    assert response.status_code == 201
    server.stop()

    restarted = start_server(ini_path=path)
    response = requests.get(f"{restarted.url}{records}/first", auth=ALICE, timeout=5)
    assert response.status_code == 200
    assert response.json()["data"]["done"] is False
    assert response.json()["permissions"]["write"] == ["account:alice"]
    assert (tmp_path / "data" / "kinto.db").is_file()


ALICE = ("alice", "s3cret")


def test_init_postgresql_with_memory_cache(tmp_path: Path) -> None:
    path = tmp_path / "kinto.ini"
    args = ("init", "--backend", "postgresql", "--cache-backend", "memory", "--host", "0.0.0.0")
    assert kinto(*args, "--ini", str(path)).returncode == 0
    text = path.read_text()
    assert "kinto.permission_backend = kinto.core.permission.postgresql" in text
    assert "kinto.cache_backend = kinto.core.cache.memory" in text
    assert "host = 0.0.0.0" in text


@pytest.mark.parametrize(
    ("cache", "lines"),
    [
        ("redis", ["kinto.cache_backend = kinto.core.cache.redis", "kinto.cache_url = redis://"]),
        (
            "memcached",
            [
                "kinto.cache_backend = kinto.core.cache.memcached",
                "kinto.cache_url = 127.0.0.1:11211",
            ],
        ),
    ],
)
def test_init_with_kintos_cache_servers(tmp_path: Path, cache: str, lines: list[str]) -> None:
    path = tmp_path / "kinto.ini"
    args = ("init", "--backend", "memory", "--cache-backend", cache)
    assert kinto(*args, "--ini", str(path)).returncode == 0
    text = path.read_text()
    for line in lines:
        assert line in text


def test_init_rejects_unknown_backends(tmp_path: Path) -> None:
    result = kinto("init", "--backend", "mongodb", "--ini", str(tmp_path / "kinto.ini"))
    assert result.returncode == 2
    assert not (tmp_path / "kinto.ini").exists()


def test_start_serves_an_initialised_ini(tmp_path: Path, start_server: StartServer) -> None:
    path = tmp_path / "kinto.ini"
    assert kinto("init", "--backend", "memory", "--ini", str(path)).returncode == 0
    server = start_server(ini_path=path)
    response = requests.get(server.url + "/v1/__lbheartbeat__", timeout=5)
    assert response.status_code == 200
    assert f"Serving on {server.url}" in server.output()


def test_start_serves_an_ini_written_by_kinto(tmp_path: Path, start_server: StartServer) -> None:
    path = Path(shutil.copy(FIXTURES / "kinto-26.5.0-memory.ini", tmp_path / "kinto.ini"))
    server = start_server(ini_path=path)
    hello = requests.get(server.url + "/v1/", timeout=5).json()
    assert "accounts" in hello["capabilities"]


def test_environment_overrides_a_setting(start_server: StartServer) -> None:
    server = start_server(env={"KINTO_BATCH_MAX_REQUESTS": "7"})
    hello = requests.get(server.url + "/v1/", timeout=5).json()
    assert hello["settings"]["batch_max_requests"] == 7


def test_reload_applies_a_changed_ini(tmp_path: Path, start_server: StartServer) -> None:
    path = write_ini(tmp_path / "kinto.ini")
    server = start_server(ini_path=path, options=["--reload"])
    # The reloader polls every second and takes the ini's first modification time
    # as its baseline: a change made before that first poll would go unnoticed.
    time.sleep(2)
    write_ini(path, {"kinto.batch_max_requests": "9"})

    deadline = time.monotonic() + 20
    seen = None
    while time.monotonic() < deadline and seen != 9:
        time.sleep(0.2)
        try:
            hello = requests.get(server.url + "/v1/", timeout=1).json()
        except requests.RequestException:
            continue
        seen = hello["settings"]["batch_max_requests"]
    assert seen == 9


def test_live_server_answers(live_server: KintoServer) -> None:
    response = requests.get(live_server.url + "/v1/__heartbeat__", timeout=5)
    assert response.status_code == 200


def test_start_rejects_another_application(tmp_path: Path) -> None:
    path = tmp_path / "kinto.ini"
    path.write_text("[app:main]\nuse = egg:somethingelse\n")
    result = kinto("start", "--ini", str(path))
    assert result.returncode == 1
    assert "use = egg:somethingelse" in result.stderr


def test_missing_ini_is_reported(tmp_path: Path) -> None:
    result = kinto("migrate", cwd=tmp_path)
    assert result.returncode == 1
    assert "config/kinto.ini" in result.stderr


@pytest.mark.parametrize("command", ["start", "migrate"])
def test_unusable_schema_is_reported_without_traceback(tmp_path: Path, command: str) -> None:
    """A schema the server cannot use is the operator's to fix: the command
    prints what is wrong and exits with 1, like any other configuration error."""
    database = tmp_path / "kinto.db"
    with sqlite3.connect(database) as connection:
        # What a newer server would leave behind.
        connection.execute("CREATE TABLE metadata (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        connection.execute("INSERT INTO metadata VALUES ('kinto_clone.storage.schema', '99')")
    connection.close()
    sqlite_storage = {
        "kinto.storage_backend": "kinto_clone.core.storage.sqlite",
        "kinto.storage_url": f"sqlite:///{database}",
    }
    path = write_ini(tmp_path / "kinto.ini", sqlite_storage)
    result = kinto(command, "--ini", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(
        f"kinto {command}: SQLite storage schema version 99 is unknown to this server"
    )


@pytest.mark.postgresql
def test_start_on_an_empty_postgresql_says_to_migrate(
    tmp_path: Path, empty_postgresql_url: str, start_server: StartServer
) -> None:
    """Unlike SQLite, PostgreSQL needs ``kinto migrate`` first; ``start`` says so
    in one line, and starts once it is done."""
    backends = {
        "kinto.storage_backend": "kinto.core.storage.postgresql",
        "kinto.storage_url": empty_postgresql_url,
        "kinto.permission_backend": "kinto.core.permission.postgresql",
        "kinto.permission_url": empty_postgresql_url,
    }
    path = write_ini(tmp_path / "kinto.ini", backends)
    refused = kinto("start", "--ini", str(path))
    assert refused.returncode == 1
    # Before it, only warnings (autovacuum off on this PostgreSQL) may be logged.
    last_line = refused.stderr.strip().splitlines()[-1]
    assert last_line.startswith("kinto start: PostgreSQL storage schema missing")
    assert refused.stderr.strip().endswith("run `kinto migrate`.")
    assert "Traceback" not in refused.stderr

    assert kinto("migrate", "--ini", str(path)).returncode == 0
    server = start_server(ini_path=path)
    assert requests.get(server.url + "/v1/__heartbeat__", timeout=5).status_code == 200


@pytest.mark.parametrize(
    "args",
    [("flush-cache",), ("migrate",), ("migrate", "--dry-run"), ("purge-deleted", "record", "0")],
)
def test_maintenance_commands_on_memory_backends(tmp_path: Path, args: tuple[str, ...]) -> None:
    path = write_ini(tmp_path / "kinto.ini")
    result = kinto(*args, "--ini", str(path))
    assert result.returncode == 0, result.stderr


def test_create_user_needs_the_accounts_plugin(tmp_path: Path) -> None:
    path = write_ini(tmp_path / "kinto.ini")
    result = kinto("create-user", "-u", "admin", "-p", "secret", "--ini", str(path))
    assert result.returncode == 52


def test_create_user_refuses_a_readonly_server(tmp_path: Path) -> None:
    path = write_ini(tmp_path / "kinto.ini", {"kinto.readonly": "true"})
    result = kinto("create-user", "-u", "admin", "-p", "secret", "--ini", str(path))
    assert result.returncode == 51


# The accounts plugin refuses to start without its policy, as Kinto's does.
ACCOUNTS = {
    "kinto.includes": "kinto.plugins.accounts",
    "multiauth.policies": "account basicauth",
    "multiauth.policy.account.use": "kinto.plugins.accounts.AccountsPolicy",
}


def test_create_user_aborted_without_input(tmp_path: Path) -> None:
    path = write_ini(tmp_path / "kinto.ini", ACCOUNTS)
    result = kinto("create-user", "--ini", str(path))
    assert result.returncode == 53


def test_create_user_with_accounts(tmp_path: Path) -> None:
    path = write_ini(tmp_path / "kinto.ini", ACCOUNTS)
    result = kinto("create-user", "-u", "admin", "-p", "secret", "--ini", str(path))
    assert result.returncode == 0, result.stderr
    assert "admin" in result.stdout


# --- Bad configuration: one line, exit code 1, no traceback ----------------------------


def assert_one_line_error(
    result: subprocess.CompletedProcess, command: str, *fragments: str
) -> None:
    """The operator reads one line naming what to fix, and scripts see exit code 1."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert message.startswith(f"kinto {command}: "), message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("setting", "value", "fragments"),
    [
        ("kinto.paginate_by", "abc", ("kinto.paginate_by = 'abc'", "whole number")),
        ("kinto.batch_max_requests", "ten", ("kinto.batch_max_requests = 'ten'",)),
        ("kinto.readonly", "maybe", ("kinto.readonly = 'maybe'", "true or false")),
        ("kinto.explicit_permissions", "ture", ("kinto.explicit_permissions",)),
        ("kinto.cors_max_age_seconds", "1h", ("kinto.cors_max_age_seconds", "seconds")),
        ("kinto.record_cache_expires_seconds", "soon", ("kinto.record_cache_expires_seconds",)),
        ("kinto.pagination_token_validity_seconds", "1.5", ("1.5", "seconds")),
        ("kinto.eos", "next year", ("kinto.eos = 'next year'", "YYYY-MM-DD")),
        ("kinto.includes", "nope.plugin", ("kinto.includes = nope.plugin", "cannot import")),
        ("kinto.includes", "os", ("kinto.includes = os", "not a plugin")),
        ("multiauth.policies", "basicauth nope", ("multiauth.policy.nope.use is not set",)),
        ("kinto.storage_backend", "nope.nothere", ("kinto.storage_backend = nope.nothere",)),
        ("kinto.permission_backend", "os.path", ("kinto.permission_backend = os.path",)),
        ("kinto.cache_backend", "os.path", ("not a cache backend",)),
        ("kinto.id_generator", "nope.Generator", ("kinto.id_generator = nope.Generator",)),
        ("kinto.storage_pool_size", "many", ("kinto.storage_pool_size = 'many'",)),
    ],
)
@pytest.mark.parametrize("command", ["start", "migrate"])
def test_an_invalid_setting(
    tmp_path: Path, command: str, setting: str, value: str, fragments: tuple[str, ...]
) -> None:
    settings = {setting: value}
    if setting == "kinto.storage_pool_size":  # read by the SQL backends only
        settings["kinto.storage_backend"] = "kinto_clone.core.storage.sqlite"
        settings["kinto.storage_url"] = f"sqlite:///{tmp_path}/kinto.db"
    path = write_ini(tmp_path / "kinto.ini", settings)
    assert_one_line_error(kinto(command, "--ini", str(path)), command, *fragments)


def test_a_missing_ini(tmp_path: Path) -> None:
    result = kinto("start", "--ini", str(tmp_path / "nothere.ini"))
    assert_one_line_error(result, "start", "nothere.ini", "kinto init")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[app:main\nkinto.x = 1\n", "not a valid ini file"),
        ("[app:main]\nkinto.x = 1\nkinto.x = 2\n", "already exists"),
        ("[server:main]\nport = 8888\n", "no [app:main] section"),
        ("[app:main]\nkinto.x = %(nothere)s\n", "kinto.x"),
        ("\xff\xfe[app:main]\n", "cannot be read"),
    ],
)
def test_an_unusable_ini(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "kinto.ini"
    path.write_bytes(text.encode("latin-1"))
    assert_one_line_error(kinto("migrate", "--ini", str(path)), "migrate", fragment)


def test_a_port_already_in_use(tmp_path: Path) -> None:
    path = write_ini(tmp_path / "kinto.ini")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = kinto("start", "--ini", str(path), "--port", str(port))
    assert_one_line_error(result, "start", f"127.0.0.1:{port}", "Address already in use")


def test_a_port_that_is_not_a_number(tmp_path: Path) -> None:
    path = write_ini(tmp_path / "kinto.ini")
    path.write_text(path.read_text().replace("port = %(http_port)s", "port = http"))
    assert_one_line_error(kinto("start", "--ini", str(path)), "start", "port = 'http'")


# Nothing listens on port 1: connections are refused at once.
UNREACHABLE_POSTGRESQL = "postgresql://postgres@127.0.0.1:1/kinto"


@pytest.mark.parametrize("command", ["start", "migrate", "create-user", "purge-deleted"])
def test_an_unreachable_postgresql(tmp_path: Path, command: str) -> None:
    settings = {
        **ACCOUNTS,
        "kinto.storage_backend": "kinto.core.storage.postgresql",
        "kinto.storage_url": UNREACHABLE_POSTGRESQL,
    }
    path = write_ini(tmp_path / "kinto.ini", settings)
    extra = {"create-user": ["-u", "admin", "-p", "s3cret"], "purge-deleted": ["record", "1"]}
    result = kinto(command, "--ini", str(path), *extra.get(command, []))
    assert_one_line_error(result, command, "kinto.storage_url", "Connection refused")


def sqlite_settings(url: str) -> dict[str, str]:
    return {
        "kinto.storage_backend": "kinto_clone.core.storage.sqlite",
        "kinto.storage_url": url,
        "kinto.permission_backend": "kinto_clone.core.permission.sqlite",
        "kinto.permission_url": url,
    }


@pytest.mark.parametrize("command", ["start", "migrate"])
def test_a_sqlite_folder_that_cannot_be_created(tmp_path: Path, command: str) -> None:
    (tmp_path / "a-file").write_text("")
    settings = sqlite_settings(f"sqlite:///{tmp_path}/a-file/data/kinto.db")
    path = write_ini(tmp_path / "kinto.ini", settings)
    result = kinto(command, "--ini", str(path))
    assert_one_line_error(result, command, "kinto.storage_url", "a-file")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("command", ["start", "migrate", "purge-deleted"])
def test_a_sqlite_folder_where_no_file_can_be_written(tmp_path: Path, command: str) -> None:
    # Read-only even for root, unlike a folder made read-only with chmod.
    path = write_ini(tmp_path / "kinto.ini", sqlite_settings("sqlite:////proc/self/kinto.db"))
    extra = ["record", "1"] if command == "purge-deleted" else []
    result = kinto(command, "--ini", str(path), *extra)
    assert_one_line_error(result, command, "kinto.storage_url", "unable to open database file")


@pytest.mark.parametrize(
    ("args", "output"),
    [
        (("create-user", "-u", "admin", "-p", "s3cret"), "'admin' saved"),
        (("purge-deleted", "record", "1"), "0 tombstone(s) deleted"),
        (("flush-cache",), "Cache flushed"),
    ],
)
def test_maintenance_commands_right_after_init(
    tmp_path: Path, args: tuple[str, ...], output: str
) -> None:
    """The generated ini says to run ``create-user`` first: SQLite's schema is
    created by any command, as ``start`` creates it."""
    path = tmp_path / "kinto.ini"
    assert kinto("init", "--ini", str(path)).returncode == 0
    result = kinto(*args, "--ini", str(path))
    assert result.returncode == 0, result.stderr
    assert output in result.stdout


def test_create_user_right_after_init_can_log_in(
    tmp_path: Path, start_server: StartServer
) -> None:
    path = tmp_path / "kinto.ini"
    assert kinto("init", "--ini", str(path)).returncode == 0
    assert kinto("create-user", "-u", "admin", "-p", "s3cret", "--ini", str(path)).returncode == 0
    server = start_server(ini_path=path)
    hello = requests.get(f"{server.url}/v1/", auth=("admin", "s3cret"), timeout=5).json()
    assert hello["user"]["id"] == "account:admin"


def test_reload_with_several_workers_is_refused_before_the_reloader_starts(
    tmp_path: Path,
) -> None:
    path = write_ini(tmp_path / "kinto.ini")
    refused = kinto("start", "--ini", str(path), "--reload", "--workers", "2")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "kinto start: --reload and several workers cannot be combined"
    )
