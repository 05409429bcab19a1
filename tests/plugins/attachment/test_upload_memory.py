"""A 200 MB upload to a real ``kinto start`` process grows its memory by less than 50 MB.

The body goes from waitress's spool file through the streaming parser to a
staged file and then to the folder; nothing holds it whole.  Measured from
``/proc/<pid>/status``: the peak resident size (``VmHWM``) after the upload
against the resident size (``VmRSS``) before it, once through a bucket's URL and
once through the default bucket (which hands the body on to the real URL).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest
import requests

from tests.server import KintoServer, write_ini

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

SIZE = 200 * 1024 * 1024
MAX_GROWTH = 50 * 1024 * 1024
BOUNDARY = "memory-test-boundary"
AUTH = ("alice", "secret")


def status_kilobytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


def server_pid(server: KintoServer) -> int:
    assert server._process is not None
    return server._process.pid


def write_body(path: Path) -> str:
    """A multipart body with a ``SIZE`` file, written to disk; returns the file's hash."""
    sha256 = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with path.open("wb") as body:
        body.write(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="data"\r\n\r\n'
            f'{{"size": "large"}}\r\n--{BOUNDARY}\r\n'
            'Content-Disposition: form-data; name="attachment"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        for _ in range(SIZE // len(block)):
            body.write(block)
            sha256.update(block)
        body.write(f"\r\n--{BOUNDARY}--\r\n".encode())
    return sha256.hexdigest()


def post_body(url: str, body_path: Path) -> requests.Response:
    headers = {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(body_path.stat().st_size),
    }
    with body_path.open("rb") as body:
        return requests.post(url, data=body, headers=headers, auth=AUTH, timeout=300)


def test_a_200_mb_upload_keeps_memory_growth_under_50_mb(tmp_path: Path) -> None:
    files = tmp_path / "files"
    ini = write_ini(
        tmp_path / "kinto.ini",
        {
            "kinto.includes": "kinto.plugins.default_bucket kinto_attachment",
            "kinto.attachment.base_path": str(files),
            "kinto.attachment.base_url": "http://cdn.example.com/",
            "kinto.attachment.extensions": "any",
            "kinto.bucket_create_principals": "system.Authenticated",
        },
    )
    body_path = tmp_path / "body"
    expected_hash = write_body(body_path)
    with KintoServer(ini) as server:
        api = f"{server.url}/v1"
        requests.put(f"{api}/buckets/b", json={}, auth=AUTH).raise_for_status()
        requests.put(f"{api}/buckets/b/collections/c", json={}, auth=AUTH).raise_for_status()
        pid = server_pid(server)
        growths = []
        for record_url in (
            f"{api}/buckets/b/collections/c/records/big",
            f"{api}/buckets/default/collections/c/records/big",
        ):
            before = status_kilobytes(pid, "VmRSS")
            response = post_body(f"{record_url}/attachment", body_path)
            assert response.status_code == 201, response.text
            assert response.json()["size"] == SIZE
            assert response.json()["hash"] == expected_hash
            growths.append((status_kilobytes(pid, "VmHWM") - before) * 1024)
        print(f"memory growth of 200 MB uploads: {[g // 2**20 for g in growths]} MB")
        assert max(growths) < MAX_GROWTH, growths
    assert [path.stat().st_size for path in files.iterdir()] == [SIZE, SIZE]
