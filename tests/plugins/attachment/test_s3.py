"""Attachments on S3, against moto's S3 server on loopback (a real S3 HTTP API)."""

from __future__ import annotations

import gzip
import hashlib

import pytest
import webtest

from tests.plugins.attachment.conftest import ALICE, RECORD, create_collection, upload
from tests.s3_server import S3Server

BASE_URL = "https://cdn.example.com/"
EXPLODING = "kinto_attachment tests.functional.exploding_plugin"


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture
def s3_app(make_app, s3_server: S3Server, s3_bucket: str):
    def make(settings: dict[str, str] | None = None, includes: str = "kinto_attachment"):
        app = make_app(
            {
                "kinto.includes": includes,
                "kinto.attachment.base_url": BASE_URL,
                "kinto.bucket_create_principals": "system.Authenticated",
                **s3_server.settings(s3_bucket),
                **(settings or {}),
            }
        )
        create_collection(app)
        return app

    return make


def test_files_are_stored_with_their_type(s3_app, s3_server: S3Server, s3_bucket: str) -> None:
    app: webtest.TestApp = s3_app({"kinto.attachment.folder": "{bucket_id}/{collection_id}"})
    attachment = upload(app, content=b"hello", mimetype="text/custom").json
    [key] = s3_server.keys(s3_bucket)
    assert key.startswith("blog/articles/")
    assert attachment["location"] == BASE_URL + key
    stored = s3_server.client().get_object(Bucket=s3_bucket, Key=key)
    assert stored["Body"].read() == b"hello"
    assert stored["ContentType"] == "text/custom"
    assert attachment["hash"] == hashlib.sha256(b"hello").hexdigest()
    grants = s3_server.client().get_object_acl(Bucket=s3_bucket, Key=key)["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)


def test_replacing_and_deleting(s3_app, s3_server: S3Server, s3_bucket: str) -> None:
    app = s3_app()
    upload(app)
    second = upload(app, filename="b.txt").json
    assert [BASE_URL + key for key in s3_server.keys(s3_bucket)] == [second["location"]]
    app.delete(RECORD + "/attachment", headers=ALICE)
    assert s3_server.keys(s3_bucket) == []
    upload(app)
    app.delete("/v1/buckets/blog", headers=ALICE)
    assert s3_server.keys(s3_bucket) == []


def test_keep_old_files(s3_app, s3_server: S3Server, s3_bucket: str) -> None:
    app = s3_app({"kinto.attachment.keep_old_files": "true"})
    upload(app)
    upload(app)
    app.delete(RECORD, headers=ALICE)
    assert len(s3_server.keys(s3_bucket)) == 2


def test_names_are_never_reused(s3_app, s3_server: S3Server, s3_bucket: str) -> None:
    app = s3_app({"kinto.attachment.randomize": "false"})
    upload(app)
    upload(app, RECORD.replace("r1", "r2"))
    assert s3_server.keys(s3_bucket) == ["hello-1.txt", "hello.txt"]


def test_a_failure_after_the_upload_leaves_no_object(
    s3_app, s3_server: S3Server, s3_bucket: str
) -> None:
    app = s3_app(includes=EXPLODING)
    upload(app, data={"explode": True}, status=500)
    assert s3_server.keys(s3_bucket) == []
    app.get(RECORD, headers=ALICE, status=404)


def test_gzipped_on_s3(s3_app, s3_server: S3Server, s3_bucket: str) -> None:
    app = s3_app({"kinto.attachment.gzipped": "true"})
    content = b"squeeze me " * 50
    attachment = upload(app, content=content).json
    [key] = s3_server.keys(s3_bucket)
    stored = s3_server.client().get_object(Bucket=s3_bucket, Key=key)
    body = stored["Body"].read()
    assert stored["ContentType"] == "application/x-gzip"
    assert gzip.decompress(body) == content
    assert attachment["hash"] == hashlib.sha256(body).hexdigest()
    assert attachment["original"]["size"] == len(content)


def test_pyramid_storage_address_settings(make_app, s3_server: S3Server, s3_bucket: str) -> None:
    host, port = s3_server.url.removeprefix("http://").split(":")
    settings = s3_server.settings(s3_bucket)
    del settings["kinto.attachment.aws.endpoint_url"]
    app = make_app(
        {
            "kinto.includes": "kinto_attachment",
            **settings,
            "kinto.attachment.aws.host": host,
            "kinto.attachment.aws.port": port,
            "kinto.attachment.aws.is_secure": "false",
            "kinto.attachment.aws.use_path_style": "true",
            "kinto.attachment.aws.acl": "",
            "kinto.bucket_create_principals": "system.Authenticated",
        }
    )
    create_collection(app)
    upload(app)
    assert len(s3_server.keys(s3_bucket)) == 1


def test_the_heartbeat_checks_the_bucket(s3_app, make_app, s3_server: S3Server) -> None:
    assert s3_app().get("/v1/__heartbeat__").json["attachments"] is True
    broken = make_app(
        {"kinto.includes": "kinto_attachment", **s3_server.settings("no-such-bucket")}
    )
    assert broken.get("/v1/__heartbeat__", status=503).json["attachments"] is False
