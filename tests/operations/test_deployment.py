"""The container image's contract: data volume, health check, secrets from the environment.

Docker is not needed: the Dockerfile's instructions are read and what they rely
on is checked here (the health check's command is run against a real server).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from kinto_clone.configuration import read_ini
from tests.server import KintoServer, free_port, write_ini

ROOT = Path(__file__).parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
CONTAINER_PORT = 8888


def instruction(name: str) -> str:
    """The (backslash-continued) arguments of the Dockerfile instruction ``name``."""
    joined = DOCKERFILE.replace("\\\n", " ")
    match = re.search(rf"^{name}\s+(.+)$", joined, re.MULTILINE)
    assert match, f"no {name} in the Dockerfile"
    return match.group(1).strip()


def healthcheck_command(port: int) -> list[str]:
    arguments = instruction("HEALTHCHECK")
    command = json.loads(arguments[arguments.index("CMD") + len("CMD") :].strip())
    assert command[0] == "python"
    return [
        sys.executable,
        *(part.replace(str(CONTAINER_PORT), str(port)) for part in command[1:]),
    ]


def test_the_database_of_the_image_ini_is_in_the_volume(tmp_path: Path) -> None:
    workdir = Path(instruction("WORKDIR"))
    (volume,) = json.loads(instruction("VOLUME"))
    # config/kinto.ini as copied into the image, read from a stand-in of WORKDIR.
    app = tmp_path / workdir.relative_to("/")
    (app / "config").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "kinto.ini", app / "config" / "kinto.ini")
    settings = read_ini(app / "config" / "kinto.ini", {"http_port": "8888"}).app_settings
    for kind in ("storage", "permission", "cache"):
        database = Path(sa.make_url(settings[f"kinto.{kind}_url"]).database).resolve()
        assert database.parent == tmp_path / Path(volume).relative_to("/")


@pytest.mark.process
def test_healthcheck_command_follows_the_heartbeat(tmp_path: Path) -> None:
    assert "/v1/__heartbeat__" in instruction("HEALTHCHECK")
    with KintoServer(write_ini(tmp_path / "kinto.ini")) as server:
        assert requests.get(f"{server.url}/v1/__heartbeat__", timeout=10).status_code == 200
        healthy = subprocess.run(healthcheck_command(server.port), capture_output=True, timeout=30)
        assert healthy.returncode == 0, healthy.stderr
    nobody = subprocess.run(healthcheck_command(free_port()), capture_output=True, timeout=30)
    assert nobody.returncode != 0


def test_readme_docker_run_sets_both_secrets() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    (command,) = [line for line in readme.splitlines() if line.startswith("docker run")]
    for variable in ("KINTO_USERID_HMAC_SECRET", "KINTO_DEFAULT_BUCKET_HMAC_SECRET"):
        assert variable in command
