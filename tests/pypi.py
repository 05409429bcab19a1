"""Sdists downloaded from PyPI by pip, for suites the tests run from them
(kinto-http.py's functional tests, the JSON-Schema-Test-Suite in jsonschema's)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from tests.clients.conftest import unavailable


def fetch_sdist(
    project: str, version: str, cache: Path, timeout: float, suite: str, only: str = ""
) -> Path:
    """Download the sdist of ``project==version`` with pip and unpack it as
    ``cache/<name>-<version>``, which is returned; ``only`` keeps the members under
    that folder of the sdist.  A failed download skips ``suite`` (fails it under CI)."""
    stem = f"{project.replace('-', '_')}-{version}"
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:"]
        command += ["--no-deps", "--disable-pip-version-check", "--quiet"]
        command += ["--dest", tmp, f"{project}=={version}"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            unavailable(f"pip download {project}=={version} timed out", suite)
        archives = sorted(Path(tmp).glob(f"{stem}.tar.gz"))
        if result.returncode != 0 or not archives:
            last = (result.stderr.strip().splitlines() or ["no sdist"])[-1]
            unavailable(f"cannot download the {project}=={version} sdist ({last})", suite)
        with tarfile.open(archives[0]) as archive:
            prefix = f"{stem}/{only}"
            members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
            # Only plain files and folders inside tmp (the filter exists since 3.11.4).
            if hasattr(tarfile, "data_filter"):
                archive.extractall(tmp, members=members if only else None, filter="data")
            else:
                archive.extractall(tmp, members=members if only else None)
        (Path(tmp) / stem).rename(cache / stem)
    return cache / stem
