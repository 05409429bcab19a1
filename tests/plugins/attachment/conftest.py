"""Fixtures of the attachment tests: an app with the plugin on a folder of the test.

``attachment_app(settings)`` builds the app (on each backend of the matrix, see
:mod:`tests.plugins.conftest`) with its files in ``files_dir``; ``upload(...)``
posts a file as kinto-http.py does (multipart, ``data`` and ``permissions`` as
JSON texts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import webtest

from tests.plugins.conftest import MakeApp, basic_auth

ALICE = basic_auth("alice")
BOB = basic_auth("bob")
BASE_URL = "http://files.example.com/attachments/"
RECORD = "/v1/buckets/blog/collections/articles/records/r1"

Upload = Callable[..., webtest.TestResponse]


def stored_files(folder: Path) -> list[str]:
    """Every file under ``folder``, as sorted relative paths."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


@pytest.fixture
def attachment_app(make_app: MakeApp, files_dir: Path) -> Callable[..., webtest.TestApp]:
    def make(settings: dict[str, str] | None = None, includes: str = "kinto_attachment"):
        base = {
            "kinto.includes": includes,
            "kinto.attachment.base_path": str(files_dir),
            "kinto.attachment.base_url": BASE_URL,
            "kinto.bucket_create_principals": "system.Authenticated",
        }
        return make_app({**base, **(settings or {})})

    return make


@pytest.fixture
def app(attachment_app: Callable[..., webtest.TestApp]) -> webtest.TestApp:
    """The plugin with its defaults, and alice's bucket ``blog`` with ``articles``."""
    app = attachment_app()
    create_collection(app)
    return app


def create_collection(
    app: webtest.TestApp, bucket: str = "blog", collection: str = "articles"
) -> None:
    app.put_json(f"/v1/buckets/{bucket}", {}, headers=ALICE)
    app.put_json(f"/v1/buckets/{bucket}/collections/{collection}", {}, headers=ALICE)


def upload(
    app: webtest.TestApp,
    record_uri: str = RECORD,
    filename: str = "hello.txt",
    content: bytes = b"hello",
    *,
    data: dict[str, Any] | None = None,
    permissions: dict[str, Any] | None = None,
    mimetype: str | None = None,
    headers: dict[str, str] | None = None,
    status: int | str = "2*",
) -> webtest.TestResponse:
    fields = {}
    if data is not None:
        fields["data"] = json.dumps(data)
    if permissions is not None:
        fields["permissions"] = json.dumps(permissions)
    file = (
        ("attachment", filename, content, mimetype)
        if mimetype
        else ("attachment", filename, content)
    )
    return app.post(
        record_uri + "/attachment",
        params=fields,
        upload_files=[file],
        headers=ALICE if headers is None else headers,
        status=status,
    )
