"""The server publishing the files itself when ``attachment.base_url`` names it."""

from __future__ import annotations

from pathlib import Path

import pytest
import webtest

from tests.plugins.attachment.conftest import ALICE, create_collection, upload

pytestmark = pytest.mark.parametrize("app_backend", ["memory"], indirect=True)


@pytest.fixture
def serving_app(attachment_app) -> webtest.TestApp:
    app = attachment_app(
        {
            "kinto.attachment.base_url": "http://localhost/files/",
            "kinto.attachment.extensions": "any",
            "kinto.attachment.mimetypes": ".ftl:application/vnd.fluent",
        }
    )
    create_collection(app)
    return app


def path_of(location: str) -> str:
    return location.removeprefix("http://localhost")


def test_files_are_served_with_type_etag_and_caching(serving_app: webtest.TestApp) -> None:
    content = b"0123456789" * 100
    attachment = upload(serving_app, filename="data.json", content=content).json
    response = serving_app.get(path_of(attachment["location"]))
    assert response.body == content
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Last-Modified"]
    etag = response.headers["ETag"]
    serving_app.get(path_of(attachment["location"]), headers={"If-None-Match": etag}, status=304)
    head = serving_app.head(path_of(attachment["location"]))
    assert head.headers["Content-Length"] == str(len(content))


def test_range_requests(serving_app: webtest.TestApp) -> None:
    content = bytes(range(256)) * 4
    location = upload(serving_app, filename="a.bin", content=content).json["location"]
    response = serving_app.get(path_of(location), headers={"Range": "bytes=10-19"}, status=206)
    assert response.body == content[10:20]
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(content)}"
    serving_app.get(path_of(location), headers={"Range": "bytes=5000-"}, status=416)


def test_configured_types_apply_when_serving(serving_app: webtest.TestApp) -> None:
    location = upload(serving_app, filename="a.ftl", content=b"x = y").json["location"]
    assert serving_app.get(path_of(location)).content_type == "application/vnd.fluent"


def test_only_files_of_the_folder_are_served(
    serving_app: webtest.TestApp, files_dir: Path
) -> None:
    (files_dir.parent / "secret.txt").write_text("secret")
    serving_app.get("/files/../secret.txt", status=404)
    serving_app.get("/files/%2E%2E/secret.txt", status=404)
    serving_app.get("/files/missing.txt", status=404)
    serving_app.get("/files/", status=404)
    location = upload(serving_app).json["location"]
    serving_app.delete("/v1/buckets/blog/collections/articles/records/r1", headers=ALICE)
    serving_app.get(path_of(location), status=404)
    # Other unversioned URLs still redirect to /v1.
    serving_app.get("/buckets", status=307)


def test_requests_to_another_host_are_not_served(serving_app: webtest.TestApp) -> None:
    location = upload(serving_app).json["location"]
    headers = {"Host": "cdn.example.com"}
    # Left to the redirection of unversioned URLs, as without the plugin.
    serving_app.get(path_of(location), headers=headers, status=307)


def test_a_cdn_base_url_publishes_nothing_here(attachment_app) -> None:
    app = attachment_app()  # base_url on files.example.com
    create_collection(app)
    location = upload(app).json["location"]
    app.get(location.removeprefix("http://files.example.com"), status=307)


def test_files_under_the_version_prefix(attachment_app) -> None:
    app = attachment_app(
        {
            "kinto.attachment.base_url": "http://localhost/v1/files/",
            "kinto.version_prefix_redirect_enabled": "false",
        }
    )
    create_collection(app)
    location = upload(app, content=b"under v1").json["location"]
    assert app.get(path_of(location)).body == b"under v1"


def test_gzipped_files_are_served_as_gzip(attachment_app) -> None:
    app = attachment_app(
        {"kinto.attachment.base_url": "http://localhost/files/", "kinto.attachment.gzipped": "1"}
    )
    create_collection(app)
    attachment = upload(app, content=b"text " * 100).json
    response = app.get(path_of(attachment["location"]))
    assert response.content_type == attachment["mimetype"] == "application/x-gzip"
    assert "Content-Encoding" not in response.headers
    assert response.headers["Content-Length"] == str(attachment["size"])


def test_an_archive_is_described_as_it_is_served(serving_app: webtest.TestApp) -> None:
    """Without a type from the client, the record's and the download's agree."""
    headers = {**ALICE, "Content-Type": "multipart/form-data; boundary=xyz"}
    body = (
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="attachment"; filename="backup.tar.gz"\r\n\r\n'
        b"not really gzip\r\n--xyz--\r\n"
    )
    record = "/v1/buckets/blog/collections/articles/records/r1"
    attachment = serving_app.post(record + "/attachment", body, headers=headers).json
    response = serving_app.get(path_of(attachment["location"]))
    assert response.content_type == attachment["mimetype"] == "application/x-gzip"
