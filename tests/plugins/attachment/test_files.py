"""Files follow their records, failed requests leave nothing behind, fields are not forged."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import webtest

from kinto_clone.plugins.attachment import files
from tests.plugins.attachment.conftest import (
    ALICE,
    RECORD,
    create_collection,
    stored_files,
    upload,
)

ARTICLES = "/v1/buckets/blog/collections/articles"
RECORD2 = ARTICLES + "/records/r2"
EXPLODING = "kinto_attachment tests.functional.exploding_plugin"


def links(app: webtest.TestApp) -> list[dict]:
    storage = app.app.registry.storage
    return sorted(
        storage.list_all(files.LINKS, files.LINKS_ROOT + "/*"), key=lambda link: link["id"]
    )


# --- Cascades ---------------------------------------------------------------------


def test_deleting_a_record_deletes_its_file(app: webtest.TestApp, files_dir: Path) -> None:
    upload(app)
    upload(app, RECORD2)
    app.delete(RECORD, headers=ALICE)
    assert len(stored_files(files_dir)) == 1
    assert [link["id"] for link in links(app)] == ["r2"]


def test_deleting_records_in_bulk_deletes_their_files(
    app: webtest.TestApp, files_dir: Path
) -> None:
    upload(app)
    upload(app, RECORD2)
    app.delete(ARTICLES + "/records", headers=ALICE)
    assert stored_files(files_dir) == []
    assert links(app) == []


def test_deleting_a_collection_deletes_its_files(app: webtest.TestApp, files_dir: Path) -> None:
    create_collection(app, "blog", "drafts")
    upload(app)
    upload(app, "/v1/buckets/blog/collections/drafts/records/r1")
    app.delete(ARTICLES, headers=ALICE)
    assert len(stored_files(files_dir)) == 1
    assert [link["collection_uri"] for link in links(app)] == ["/buckets/blog/collections/drafts"]


def test_deleting_a_bucket_deletes_its_files(app: webtest.TestApp, files_dir: Path) -> None:
    create_collection(app, "blog", "drafts")
    create_collection(app, "blog2", "articles")
    upload(app)
    upload(app, "/v1/buckets/blog/collections/drafts/records/r1")
    upload(app, "/v1/buckets/blog2/collections/articles/records/r1")
    app.delete("/v1/buckets/blog", headers=ALICE)
    assert len(stored_files(files_dir)) == 1
    assert [link["bucket_uri"] for link in links(app)] == ["/buckets/blog2"]
    app.delete("/v1/buckets", headers=ALICE)
    assert stored_files(files_dir) == []


def test_keep_old_files_is_read_per_collection_in_a_bucket_deletion(
    attachment_app, files_dir: Path
) -> None:
    app = attachment_app({"kinto.attachment.resources.blog.drafts.keep_old_files": "true"})
    create_collection(app)
    create_collection(app, "blog", "drafts")
    upload(app)
    upload(app, "/v1/buckets/blog/collections/drafts/records/r1", filename="draft.txt")
    app.delete("/v1/buckets/blog", headers=ALICE)
    assert len(stored_files(files_dir)) == 1
    assert links(app) == []


def test_a_recreated_record_starts_without_a_file(app: webtest.TestApp, files_dir: Path) -> None:
    upload(app)
    app.delete(RECORD, headers=ALICE)
    app.put_json(RECORD, {"data": {}}, headers=ALICE)
    app.delete(RECORD + "/attachment", headers=ALICE, status=204)
    assert stored_files(files_dir) == []


# --- Failures leave nothing behind -----------------------------------------------


def test_a_failure_after_the_file_is_written_leaves_nothing(
    attachment_app, files_dir: Path
) -> None:
    app = attachment_app(includes=EXPLODING)
    create_collection(app)
    # The record is written, the file too; then a subscriber raises.
    app.post(
        RECORD + "/attachment",
        params={"data": '{"explode": true}'},
        upload_files=[("attachment", "a.txt", b"a")],
        headers=ALICE,
        status=500,
    )
    assert stored_files(files_dir) == []
    app.get(RECORD, headers=ALICE, status=404)
    assert links(app) == []


def test_a_failed_replacement_keeps_the_previous_file(attachment_app, files_dir: Path) -> None:
    app = attachment_app(includes=EXPLODING)
    create_collection(app)
    before = upload(app).json
    [kept] = stored_files(files_dir)
    upload(app, filename="b.txt", data={"explode": True}, status=500)
    assert stored_files(files_dir) == [kept]
    assert app.get(RECORD, headers=ALICE).json["data"]["attachment"] == before
    assert [link["location"] for link in links(app)] == [kept]
    app.delete(RECORD + "/attachment", headers=ALICE)
    assert stored_files(files_dir) == []


def test_a_failed_deletion_keeps_the_file(attachment_app, files_dir: Path) -> None:
    app = attachment_app(includes=EXPLODING)
    create_collection(app)
    upload(app, data={"explode_on_delete": True})
    app.delete(RECORD, headers=ALICE, status=500)
    assert len(stored_files(files_dir)) == 1
    assert len(links(app)) == 1


def test_a_record_refused_by_its_schema_leaves_no_file(attachment_app, files_dir: Path) -> None:
    app = attachment_app({"kinto.experimental_collection_schema_validation": "true"})
    create_collection(app)
    schema = {"type": "object", "required": ["title"]}
    app.patch_json(ARTICLES, {"data": {"schema": schema}}, headers=ALICE)
    upload(app, status=400)
    assert stored_files(files_dir) == []
    upload(app, data={"title": "ok"}, status=201)


def test_a_storage_failure_is_a_clean_error(
    app: webtest.TestApp, files_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_set_link(*args, **kwargs) -> None:
        raise RuntimeError("storage failure after the file was written")

    monkeypatch.setattr(files, "set_link", broken_set_link)
    upload(app, status=500)
    assert stored_files(files_dir) == []
    app.get(RECORD, headers=ALICE, status=404)


# --- Forged attachment fields ----------------------------------------------------


def test_changing_an_attachment_by_hand_is_refused(app: webtest.TestApp) -> None:
    attachment = upload(app).json
    forged = {**attachment, "location": "http://elsewhere.example.com/x"}
    expected = {
        "code": 400,
        "errno": 999,
        "error": "Bad Request",
        "message": "Attachment metadata cannot be modified.",
    }
    response = app.patch_json(RECORD, {"data": {"attachment": forged}}, headers=ALICE, status=400)
    assert response.json == expected
    app.put_json(RECORD, {"data": {"attachment": forged}}, headers=ALICE, status=400)
    forging = {"method": "PATCH", "path": RECORD, "body": {"data": {"attachment": forged}}}
    batch = app.post_json("/v1/batch", {"requests": [forging]}, headers=ALICE).json
    assert batch["responses"][0]["status"] == 400
    assert app.get(RECORD, headers=ALICE).json["data"]["attachment"] == attachment
    # Other fields change freely, and so does the same attachment, unchanged.
    app.patch_json(RECORD, {"data": {"title": "t", "attachment": attachment}}, headers=ALICE)


def test_like_kinto_attachment_a_first_or_removed_field_is_not_refused(
    app: webtest.TestApp,
) -> None:
    app.put_json(RECORD, {"data": {"attachment": {"location": "x"}}}, headers=ALICE)
    upload(app)
    app.patch_json(RECORD, {"data": {"attachment": None}}, headers=ALICE)


# --- History ----------------------------------------------------------------------


def test_history_records_attachment_changes(attachment_app) -> None:
    app = attachment_app(includes="kinto_attachment kinto.plugins.history")
    create_collection(app)
    attachment = upload(app).json
    upload(app, filename="b.txt")
    app.delete(RECORD + "/attachment", headers=ALICE)
    entries = app.get(
        "/v1/buckets/blog/history?resource_name=record&_sort=last_modified", headers=ALICE
    ).json["data"]
    assert [entry["action"] for entry in entries] == ["create", "update", "update"]
    assert entries[0]["target"]["data"]["attachment"] == attachment
    assert entries[1]["target"]["data"]["attachment"]["filename"] == "b.txt"
    assert entries[2]["target"]["data"]["attachment"] is None


# --- Concurrency ------------------------------------------------------------------


def test_concurrent_uploads_to_one_record_leave_one_file(
    app: webtest.TestApp, files_dir: Path
) -> None:
    def upload_several(worker: int) -> None:
        for attempt in range(5):
            upload(app, filename=f"w{worker}-{attempt}.txt")

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(upload_several, range(3)))
    [name] = stored_files(files_dir)
    attachment = app.get(RECORD, headers=ALICE).json["data"]["attachment"]
    assert attachment["location"].endswith("/" + name)
    assert [link["location"] for link in links(app)] == [name]
