"""``npm ci`` of a folder of the tests pinning Node.js packages (``package.json``,
``package-lock.json``), shared by the kinto.js client tests and the OpenID
Connect provider."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from tests.clients.conftest import cache_lock, unavailable

NPM_TIMEOUT = 300
STAMP = ".kinto-clone-installed"


def npm_ci(npm: str, folder: Path, lock_name: str, suite: str) -> None:
    """``npm ci`` in ``folder`` from its committed lock file, unless already done for
    this lock file; ``lock_name`` serializes installs between workers and runs."""
    lock = hashlib.sha256((folder / "package.json").read_bytes())
    lock.update((folder / "package-lock.json").read_bytes())
    stamp = folder / "node_modules" / STAMP
    with cache_lock(lock_name):
        if stamp.is_file() and stamp.read_text() == lock.hexdigest():
            return
        command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
        try:
            result = subprocess.run(
                command, cwd=folder, capture_output=True, text=True, timeout=NPM_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            unavailable("npm ci timed out", suite)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["?"])[-1]
            unavailable(f"npm ci failed ({last})", suite)
        stamp.write_text(lock.hexdigest())
