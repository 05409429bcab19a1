"""Running the real ``kinto`` command as a separate process, for end-to-end tests.

A process test catches what in-process WebTest tests cannot: the console script,
ini parsing, logging set-up, waitress options and environment variables.

The default ini (:func:`default_settings`) uses the memory backends, Basic Auth
and the default bucket plugin, with these fixed secrets so tests can compute
user ids and default bucket ids:

* ``kinto.userid_hmac_secret = USERID_HMAC_SECRET``
* ``kinto.default_bucket_hmac_secret = DEFAULT_BUCKET_HMAC_SECRET``
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import requests

USERID_HMAC_SECRET = "process-tests-userid-secret"
DEFAULT_BUCKET_HMAC_SECRET = "process-tests-default-bucket-secret"
STARTUP_TIMEOUT = 20.0
HEARTBEAT_PATH = "/v1/__lbheartbeat__"


def kinto_command() -> list[str]:
    """The installed console script beside this interpreter, as users run it."""
    script = Path(sys.executable).with_name("kinto")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "kinto_clone"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def basicauth_userid(username: str, password: str) -> str:
    """The user id the default server gives to ``username:password`` (without prefix)."""
    message = f"{username}:{password}".encode()
    return hmac.new(USERID_HMAC_SECRET.encode(), message, hashlib.sha256).hexdigest()


def default_settings() -> dict[str, str]:
    return {
        "kinto.storage_backend": "kinto.core.storage.memory",
        "kinto.permission_backend": "kinto.core.permission.memory",
        "kinto.cache_backend": "kinto.core.cache.memory",
        "kinto.includes": "kinto.plugins.default_bucket",
        "multiauth.policies": "basicauth",
        "kinto.userid_hmac_secret": USERID_HMAC_SECRET,
        "kinto.default_bucket_hmac_secret": DEFAULT_BUCKET_HMAC_SECRET,
    }


def write_ini(path: Path, settings: Mapping[str, str | None] | None = None) -> Path:
    """Write an ini: the default settings updated with ``settings`` (``None`` removes)."""
    merged: dict[str, str | None] = {**default_settings(), **(settings or {})}
    lines = [
        "[server:main]",
        "use = egg:waitress#main",
        "host = 127.0.0.1",
        "port = %(http_port)s",
        "",
        "[app:main]",
        "use = egg:kinto_clone",
    ]
    # Values are written literally: ``%`` would start an ini interpolation.
    lines += [
        f"{key} = {value.replace('%', '%%')}" for key, value in merged.items() if value is not None
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sql_settings(template: str, url: str) -> dict[str, str]:
    """Storage, permission and cache settings, all on ``url``; ``template`` names the
    backend modules, ``{kind}`` standing for the kind."""
    settings = {}
    for kind in ("storage", "permission", "cache"):
        settings[f"kinto.{kind}_backend"] = template.format(kind=kind)
        settings[f"kinto.{kind}_url"] = url
    return settings


def migrate(ini_path: Path) -> None:
    """``kinto migrate --ini``, without the ``KINTO_*`` variables of the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINTO_")}
    result = subprocess.run(
        [*kinto_command(), "migrate", "--ini", str(ini_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


class KintoServer:
    """One ``kinto start`` process on a free port, from ``ini_path``.

    ``options`` are more ``kinto start`` options (``--reload``...).
    ``env`` adds environment variables; inherited ``KINTO_*`` variables are
    dropped so the developer's shell cannot change what a test sees.
    """

    def __init__(
        self,
        ini_path: Path,
        env: Mapping[str, str] | None = None,
        options: Sequence[str] = (),
    ) -> None:
        self.ini_path = ini_path
        self.options = list(options)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = ini_path.with_name(f"kinto-{self.port}.log")
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("KINTO_")}
        self._env = {**inherited, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> KintoServer:
        command = [*kinto_command(), "start", "--ini", str(self.ini_path)]
        command += ["--port", str(self.port), *self.options]
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            command,
            cwd=self.ini_path.parent,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"kinto exited with code {self._process.returncode}:\n{self.output()}"
                )
            try:
                if requests.get(self.url + HEARTBEAT_PATH, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"kinto did not answer within {STARTUP_TIMEOUT}s:\n{self.output()}")

    @property
    def pid(self) -> int:
        """The ``kinto start`` process (with ``--workers``, the supervising parent)."""
        assert self._process is not None, "the server is not running"
        return self._process.pid

    def output(self) -> str:
        """Everything the process printed so far (for failure messages)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """End the process with SIGKILL, as a crash or the OOM killer would: no
        clean shutdown, no last checkpoint (crash-recovery tests)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        self.stop()

    def __enter__(self) -> KintoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


StartServer = Callable[..., KintoServer]
"""Type of the ``start_server`` fixture (see ``tests/conftest.py``)."""
