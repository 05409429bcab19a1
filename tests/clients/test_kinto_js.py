"""kinto.js and kinto-http.js, unchanged, syncing through this server (Node.js).

``tests/clients/js`` pins the clients (``package.json``, ``package-lock.json``);
``npm ci`` installs them in ``tests/clients/js/node_modules`` when the lock file
changed since the last install.  ``sync.test.js`` (``node:test``) then drives a
server started for the run: two devices of one user editing offline, a conflict
settled with ``resolve()``, more than 200 records pulled across ``Next-Page``
pages, a record shared with a group, a batch of mixed outcomes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import Backend, clean_environment, unavailable
from tests.npm import npm_ci
from tests.server import KintoServer, StartServer, write_ini

pytestmark = [pytest.mark.clients, pytest.mark.process]

JS = Path(__file__).with_name("js")
SCRIPT = "sync.test.js"
PAGINATE_BY = 50
EXPECTED_TESTS = 5
NODE_TIMEOUT = 300
SUITE = "kinto.js client tests"


def node_and_npm() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if not path)
        unavailable(f"{missing} not found", SUITE)
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(re.match(r"v(\d+)", version.stdout.strip()).group(1))
    if major < 20:
        unavailable(f"Node.js {version.stdout.strip()} is too old (20 or later needed)", SUITE)
    return node, npm


def run_node_tests(
    node: str, script: str, env: dict[str, str], server: KintoServer
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``script`` with Node's test runner; fail with its output and the server log."""
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", script],
        cwd=JS,
        env=clean_environment(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
    )
    report = f"{result.stdout[-30000:]}\n{result.stderr[-5000:]}"
    assert result.returncode == 0, f"{report}\n--- server log:\n{server.output()[-20000:]}"
    return result, report


def test_kinto_js_syncs_through_the_server(
    backend: Backend, start_server: StartServer, tmp_path: Path
) -> None:
    node, npm = node_and_npm()
    npm_ci(npm, JS, "npm", SUITE)

    settings = {**backend.ini_settings(), "kinto.paginate_by": str(PAGINATE_BY)}
    ini = write_ini(tmp_path / "kinto.ini", settings)
    backend.migrate(ini)
    server = start_server(ini_path=ini)

    env = {"KINTO_SERVER_URL": f"{server.url}/v1", "KINTO_PAGINATE_BY": str(PAGINATE_BY)}
    result, report = run_node_tests(node, SCRIPT, env, server)
    summary = dict(
        re.findall(r"^# (tests|pass|fail|skipped|todo|cancelled) (\d+)$", result.stdout, re.M)
    )
    assert summary == {
        "tests": str(EXPECTED_TESTS),
        "pass": str(EXPECTED_TESTS),
        "fail": "0",
        "skipped": "0",
        "todo": "0",
        "cancelled": "0",
    }, report
    print(f"kinto.js 17.1.1 + kinto-http.js 5.3.0 on {backend.name}: {summary['pass']} passed")


LIVE_SCRIPT = "live.test.js"


def test_kinto_js_syncs_on_live_events(
    backend: Backend, start_server: StartServer, tmp_path: Path
) -> None:
    """Device B syncs when its event stream announces A's record (issue 18)."""
    node, npm = node_and_npm()
    npm_ci(npm, JS, "npm", SUITE)
    ini = write_ini(tmp_path / "kinto.ini", backend.ini_settings())
    backend.migrate(ini)
    server = start_server(ini_path=ini)
    result, report = run_node_tests(
        node, LIVE_SCRIPT, {"KINTO_SERVER_URL": f"{server.url}/v1"}, server
    )
    assert re.search(r"^# pass 1$", result.stdout, re.M), report
