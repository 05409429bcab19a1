"""A real S3 API on loopback for the tests: moto's server, in a process of its own.

The port is ``$KINTO_TEST_MOTO_PORT`` when set (developers sharing a machine
give each other ranges; pytest-xdist worker ``gwN`` adds N), else a free one.
Tests create the S3 buckets they use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.server import free_port

PORT_VARIABLE = "KINTO_TEST_MOTO_PORT"
STARTUP_TIMEOUT = 30.0
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"


class S3Server:
    def __init__(self, url: str) -> None:
        self.url = url

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        name = f"kinto-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def settings(self, bucket: str) -> dict[str, str]:
        """The ``kinto.attachment.aws.*`` settings storing files in ``bucket``."""
        return {
            "kinto.attachment.aws.bucket_name": bucket,
            "kinto.attachment.aws.endpoint_url": self.url,
            "kinto.attachment.aws.access_key": ACCESS_KEY,
            "kinto.attachment.aws.secret_key": SECRET_KEY,
            "kinto.attachment.aws.region": REGION,
        }


@contextmanager
def moto_server() -> Iterator[S3Server]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    chosen = os.environ.get(PORT_VARIABLE)
    port = int(chosen) + int(worker or 0) if chosen else free_port()
    script = Path(sys.executable).with_name("moto_server")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "moto.server"]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*command, "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited with code {process.returncode}")
            try:
                requests.get(url + "/moto-api/", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not answer on {url}") from None
                time.sleep(0.1)
        yield S3Server(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
