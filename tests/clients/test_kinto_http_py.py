"""kinto-http.py's own functional tests, unchanged, against this server.

The tests ship in the client's sdist (``tests/``, with the server configuration
they expect, ``tests/config/kinto.ini``); they are downloaded once into
``.cache/clients`` and run in a pytest process of their own, as their Makefile
does (``pytest -k test_functional``), against a ``kinto`` process started from
that ini.  Three things differ from their set-up, none in their tests:

* Their ini keeps attached files in ``/tmp`` (``kinto.attachment.base_path``):
  the copy the server reads keeps them in a folder of the test instead, or in
  an S3 bucket on moto's server (``kinto.attachment.aws.*``): the suite runs
  once with each file storage.
* They expect the server at a constant, ``kinto_http.constants.SERVER_URL``
  (``http://localhost:8888/v1``), with no setting to change it: the runner sets
  that constant to the address of the server started for the run, before their
  ``conftest.py`` reads it, so runs need no fixed port and may run in parallel.
* The copy of their ini the server reads sets ``kinto.account_bcrypt_rounds``
  to bcrypt's minimum, 4: each of their tests creates an account, whose hash
  and first check cost about a second at the default cost (12) on a small
  machine, most of the suite's time.  Passwords are checked all the same.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from tests.clients.conftest import Backend, cache_lock, clean_environment
from tests.pypi import fetch_sdist
from tests.s3_server import S3Server
from tests.server import KintoServer

pytestmark = [pytest.mark.clients, pytest.mark.process]

VERSION = "11.11.0"
MODULES = ("test_functional.py", "test_functional_async.py")
USES_ATTACHMENTS = ("test_adding_an_attachment", "test_removing_an_attachment")
ATTACHMENTS_IN_TMP = "kinto.attachment.base_path = /tmp\n"
BCRYPT_ROUNDS = "kinto.account_bcrypt_rounds = 4"
SUITE_TIMEOUT = 600
DOWNLOAD_TIMEOUT = 300
SUITE = "kinto-http.py client tests"

RUNNER = """\
import sys

import kinto_http.constants

# Their conftest builds clients with this constant (http://localhost:8888/v1).
kinto_http.constants.SERVER_URL = sys.argv[1]

import pytest

sys.exit(pytest.main(sys.argv[2:]))
"""


def kinto_http_sdist() -> Path:
    """The kinto-http sdist, unpacked in the cache (downloaded by pip the first time)."""
    with cache_lock("kinto-http") as cache:
        target = cache / f"kinto_http-{VERSION}"
        if (target / "tests" / "config" / "kinto.ini").is_file():
            return target
        return fetch_sdist("kinto-http", VERSION, cache, DOWNLOAD_TIMEOUT, SUITE)


def expected_tests(module: Path) -> list[str]:
    """Names of the tests the module defines (they are all plain functions)."""
    source = module.read_text(encoding="utf-8")
    return re.findall(r"^(?:async )?def (test_\w+)\(", source, flags=re.MULTILINE)


@pytest.fixture(params=["local", "s3"])
def attachment_settings(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """Where the server keeps attached files: a folder of the test, or S3 (moto)."""
    if request.param == "local":
        folder = tmp_path / "attachments"
        folder.mkdir()
        yield {"kinto.attachment.base_path": str(folder)}
        return
    server: S3Server = request.getfixturevalue("s3_server")
    yield server.settings(server.new_bucket())


@pytest.mark.parametrize("module", MODULES)
def test_kinto_http_py_functional_tests(
    module: str, backend: Backend, attachment_settings: dict[str, str], tmp_path: Path
) -> None:
    assert metadata.version("kinto-http") == VERSION, "pip install -e '.[test]'"
    sdist = kinto_http_sdist()
    tests = expected_tests(sdist / "tests" / module)
    assert set(USES_ATTACHMENTS) <= set(tests)

    # Their ini (a copy, so the cache stays clean of logs), with cheap bcrypt
    # and the test's own place for attached files.
    ini = tmp_path / "kinto.ini"
    shutil.copyfile(sdist / "tests" / "config" / "kinto.ini", ini)
    text = ini.read_text()
    assert "account_bcrypt_rounds" not in text and text.count("[app:main]\n") == 1
    assert text.count(ATTACHMENTS_IN_TMP) == 1
    attachments = "".join(f"{key} = {value}\n" for key, value in attachment_settings.items())
    text = text.replace(ATTACHMENTS_IN_TMP, attachments)
    ini.write_text(text.replace("[app:main]\n", f"[app:main]\n{BCRYPT_ROUNDS}\n"))
    env = backend.env
    backend.migrate(ini, env)

    junit = tmp_path / "junit.xml"
    arguments = ["-c", str(sdist / "pyproject.toml"), "--rootdir", str(sdist)]
    arguments += ["-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"]
    arguments += ["-q", "-rfEs", f"--junitxml={junit}", "-k", "test_functional"]
    arguments.append(f"tests/{module}")
    with KintoServer(ini, env=env) as server:
        result = subprocess.run(
            [sys.executable, "-c", RUNNER, f"{server.url}/v1", *arguments],
            cwd=sdist,
            env=clean_environment({"PYTHONDONTWRITEBYTECODE": "1"}),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=SUITE_TIMEOUT,
        )
        server_output = server.output()

    report = f"{result.stdout[-20000:]}\n{result.stderr[-5000:]}"
    assert result.returncode == 0, f"{report}\n--- server log:\n{server_output[-20000:]}"
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None, report
    counts = {key: int(suite.get(key, "0")) for key in ("tests", "failures", "errors", "skipped")}
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    assert counts == {
        "tests": len(tests),
        "failures": 0,
        "errors": 0,
        "skipped": 0,
    }, report
    storage = "S3" if "kinto.attachment.aws.bucket_name" in attachment_settings else "disk"
    print(
        f"kinto-http.py {VERSION} tests/{module} on {backend.name}, files on {storage}: "
        f"{passed} passed"
    )
