"""Each ``attachment.*`` setting, globally and in its per-bucket and per-collection forms."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from pyramid.exceptions import ConfigurationError

from tests.plugins.attachment.conftest import (
    ALICE,
    BASE_URL,
    RECORD,
    create_collection,
    stored_files,
    upload,
)

RECORD2 = "/v1/buckets/blog/collections/articles/records/r2"
OTHER_COLLECTION = "/v1/buckets/blog/collections/drafts/records/r1"
OTHER_BUCKET = "/v1/buckets/shop/collections/items/records/r1"


def make(attachment_app, settings: dict[str, str]):
    app = attachment_app(settings)
    create_collection(app)
    create_collection(app, "blog", "drafts")
    create_collection(app, "shop", "items")
    return app


def test_the_capability_lists_base_url_and_size_limit(attachment_app) -> None:
    app = attachment_app(
        {
            "kinto.attachment.base_url": "https://cdn.example.com/f",
            "kinto.attachment.max_size": "10",
        }
    )
    capability = app.get("/v1/").json["capabilities"]["attachments"]
    assert capability["base_url"] == "https://cdn.example.com/f/"
    assert capability["max_size_bytes"] == 10
    assert capability["version"] == "9.0.1"
    assert capability["url"] == "https://github.com/Kinto/kinto-attachment/"


def test_relative_locations_with_an_advertised_base_url(attachment_app) -> None:
    app = attachment_app(
        {
            "kinto.attachment.base_url": "",
            "kinto.attachment.extra.base_url": "https://cdn.example.com/files",
        }
    )
    create_collection(app)
    location = upload(app).json["location"]
    assert not location.startswith("http") and location.endswith(".txt")
    capability = app.get("/v1/").json["capabilities"]["attachments"]
    assert capability["base_url"] == "https://cdn.example.com/files/"


def test_folder_with_placeholders_and_overrides(attachment_app, files_dir: Path) -> None:
    app = make(
        attachment_app,
        {
            "kinto.attachment.folder": "{bucket_id}/{collection_id}",
            "kinto.attachment.resources.shop.folder": "shop-assets",
            "kinto.attachment.resources.blog.drafts.folder": "drafts-{id}",
        },
    )
    assert upload(app).json["location"].startswith(BASE_URL + "blog/articles/")
    assert upload(app, OTHER_BUCKET).json["location"].startswith(BASE_URL + "shop-assets/")
    assert upload(app, OTHER_COLLECTION).json["location"].startswith(BASE_URL + "drafts-r1/")
    folders = {Path(name).parent.as_posix() for name in stored_files(files_dir)}
    assert folders == {"blog/articles", "shop-assets", "drafts-r1"}


def test_keep_old_files_and_its_overrides(attachment_app, files_dir: Path) -> None:
    app = make(
        attachment_app,
        {
            "kinto.attachment.keep_old_files": "true",
            "kinto.attachment.resources.blog.drafts.keep_old_files": "false",
        },
    )
    upload(app)
    upload(app)
    app.delete(RECORD + "/attachment", headers=ALICE)
    upload(app, OTHER_COLLECTION)
    upload(app, OTHER_COLLECTION)
    app.delete(OTHER_COLLECTION, headers=ALICE)
    assert len(stored_files(files_dir)) == 2  # both of articles, none of drafts


def test_gzipped_files_keep_the_original_description(attachment_app, files_dir: Path) -> None:
    app = make(
        attachment_app,
        {
            "kinto.attachment.gzipped": "true",
            "kinto.attachment.resources.shop.gzipped": "false",
        },
    )
    content = b"a compressible text " * 100
    attachment = upload(app, content=content, mimetype="text/plain").json
    [name] = stored_files(files_dir)
    stored = (files_dir / name).read_bytes()
    assert gzip.decompress(stored) == content
    assert name.endswith(".txt.gz") or name.endswith(".gz")
    assert attachment["filename"] == "hello.txt.gz"
    assert attachment["mimetype"] == "application/x-gzip"
    assert attachment["hash"] == hashlib.sha256(stored).hexdigest()
    assert attachment["size"] == len(stored) < len(content)
    assert attachment["original"] == {
        "filename": "hello.txt",
        "hash": hashlib.sha256(content).hexdigest(),
        "mimetype": "text/plain",
        "size": len(content),
    }
    assert "original" not in upload(app, OTHER_BUCKET).json


def test_names_are_random_unless_told_otherwise(attachment_app, files_dir: Path) -> None:
    app = make(
        attachment_app,
        {
            "kinto.attachment.resources.blog.randomize": "false",
            "kinto.attachment.resources.blog.drafts.filename_pattern": "{rid}-{filename}",
        },
    )
    assert upload(app, filename="Été photo.txt").json["location"] == BASE_URL + "Ete_photo.txt"
    # Never overwritten: the name of another record's file is taken.
    assert upload(app, RECORD2, filename="Été photo.txt").json["location"] == (
        BASE_URL + "Ete_photo-1.txt"
    )
    assert upload(app, OTHER_COLLECTION).json["location"] == BASE_URL + "r1-hello.txt"
    random_name = upload(app, OTHER_BUCKET).json["location"][len(BASE_URL) :]
    assert random_name.endswith(".txt") and len(random_name) == 36 + 4


def test_extensions_and_their_groups(attachment_app, files_dir: Path) -> None:
    app = make(
        attachment_app,
        {
            "kinto.attachment.extensions": "images+pdf",
            "kinto.attachment.resources.shop.extensions": "any",
        },
    )
    upload(app, filename="a.png")
    upload(app, RECORD2, filename="a.PDF")
    response = upload(app, filename="a.txt", status=400)
    assert response.json["message"] == "body: File extension is not allowed."
    upload(app, OTHER_BUCKET, filename="a.exe")
    assert len(stored_files(files_dir)) == 3


def test_default_extensions_refuse_executables(app) -> None:
    upload(app, filename="run.exe", status=400)
    upload(app, filename="data.yaml")


def test_mimetypes_override_the_clients(attachment_app) -> None:
    app = make(
        attachment_app,
        {
            "kinto.attachment.extensions": "any",
            "kinto.attachment.mimetypes": ".ftl:application/vnd.fluent;.db:application/x-db",
            "kinto.attachment.resources.shop.mimetypes": ".ftl:text/x-ftl",
        },
    )
    assert upload(app, filename="a.ftl", mimetype="text/plain").json["mimetype"] == (
        "application/vnd.fluent"
    )
    assert upload(app, filename="a.db").json["mimetype"] == "application/x-db"
    assert upload(app, OTHER_BUCKET, filename="a.ftl").json["mimetype"] == "text/x-ftl"
    # kinto-attachment's own defaults stay.
    assert upload(app, filename="a.geojson").json["mimetype"] == "application/geojson"


def test_size_limit_and_its_overrides(attachment_app, files_dir: Path) -> None:
    app = make(
        attachment_app,
        {
            "kinto.attachment.max_size_bytes": "10",
            "kinto.attachment.resources.shop.max_size": "0",
            "kinto.attachment.resources.blog.drafts.max_size_bytes": "20",
        },
    )
    upload(app, content=b"x" * 10)
    response = upload(app, RECORD2, content=b"x" * 11, status=413)
    assert response.json == {
        "code": 413,
        "errno": 113,
        "error": "Request Entity Too Large",
        "message": "File size exceeds the limit (10 bytes).",
    }
    upload(app, OTHER_COLLECTION, content=b"x" * 20)
    upload(app, OTHER_COLLECTION, content=b"x" * 21, status=413)
    upload(app, OTHER_BUCKET, content=b"x" * 10_000)
    app.get(RECORD2, headers=ALICE, status=404)
    assert len(stored_files(files_dir)) == 3


def test_the_limit_applies_before_gzipping(attachment_app) -> None:
    app = make(
        attachment_app, {"kinto.attachment.gzipped": "true", "kinto.attachment.max_size": "100"}
    )
    upload(app, content=b"0" * 101, status=413)
    upload(app, content=b"0" * 100)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kinto.attachment.resources.blog": "x"}, "Configuration rule malformed"),
        ({"kinto.attachment.resources.a.b.c.folder": "x"}, "Configuration rule malformed"),
        ({"kinto.attachment.resources.blog.colour": "x"}, "`colour` is not a supported"),
        ({"kinto.attachment.max_size": "ten"}, "not a number of bytes"),
        ({"kinto.attachment.folder": "{user}"}, "may be used"),
        ({"kinto.attachment.mimetypes": ".ftl"}, "expected `.ext:type/subtype`"),
        ({"kinto.attachment.base_path": ""}, "Attachment backend is not configured"),
        (
            {"kinto.attachment.base_path": "", "kinto.attachment.gcloud.credentials": "x"},
            "Google Cloud Storage is not supported",
        ),
    ],
)
def test_bad_settings_stop_the_start(attachment_app, settings, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        attachment_app(settings)
