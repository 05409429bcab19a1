"""The HTTP API of kinto-attachment 9: uploads, replacements, removals, errors."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import webtest

from kinto_clone.plugins.attachment import upload as upload_module
from tests.plugins.attachment.conftest import (
    ALICE,
    BASE_URL,
    BOB,
    RECORD,
    stored_files,
    upload,
)
from tests.plugins.conftest import principal_of


def test_an_upload_creates_the_record_and_describes_the_file(
    app: webtest.TestApp, files_dir: Path
) -> None:
    response = upload(app, content=b"hello", mimetype="text/custom")
    assert response.status_code == 201
    assert response.headers["Location"].endswith(RECORD)
    attachment = response.json
    assert attachment["filename"] == "hello.txt"
    assert attachment["hash"] == hashlib.sha256(b"hello").hexdigest()
    assert attachment["size"] == 5
    assert attachment["mimetype"] == "text/custom"
    assert attachment["location"].startswith(BASE_URL)
    assert "original" not in attachment
    [name] = stored_files(files_dir)
    assert attachment["location"] == BASE_URL + name
    assert (files_dir / name).read_bytes() == b"hello"
    record = app.get(RECORD, headers=ALICE).json
    assert record["data"]["attachment"] == attachment
    assert response.headers["ETag"] == f'"{record["data"]["last_modified"]}"'


def test_data_and_permissions_are_set_on_the_record(app: webtest.TestApp) -> None:
    everyone_writes = {"write": ["system.Everyone"]}
    upload(app, data={"secret": "psssssst!"}, permissions=everyone_writes)
    record = app.get(RECORD, headers=ALICE).json
    assert record["data"]["secret"] == "psssssst!"
    assert "system.Everyone" in record["permissions"]["write"]


def test_a_new_upload_replaces_the_file_and_keeps_other_fields(
    app: webtest.TestApp, files_dir: Path
) -> None:
    first = upload(app, data={"title": "kept"}).json
    response = upload(app, filename="other.txt", content=b"other")
    assert response.status_code == 200
    record = app.get(RECORD, headers=ALICE).json["data"]
    assert record["title"] == "kept"
    assert record["attachment"]["filename"] == "other.txt"
    [name] = stored_files(files_dir)
    assert record["attachment"]["location"] == BASE_URL + name
    assert first["location"] != record["attachment"]["location"]


def test_delete_removes_the_file_and_nulls_the_field(
    app: webtest.TestApp, files_dir: Path
) -> None:
    upload(app)
    response = app.delete(RECORD + "/attachment", headers=ALICE, status=204)
    assert response.body == b""
    assert app.get(RECORD, headers=ALICE).json["data"]["attachment"] is None
    assert stored_files(files_dir) == []


def test_delete_on_a_missing_record_is_its_404_and_creates_nothing(
    app: webtest.TestApp, files_dir: Path
) -> None:
    """As Kinto with kinto-attachment: the record endpoint's own 404."""
    response = app.delete(RECORD + "/attachment", headers=ALICE, status=404)
    assert response.json == {
        "code": 404,
        "errno": 110,
        "error": "Not Found",
        "details": {"id": "r1", "resource_name": "record"},
    }
    assert response.json == app.get(RECORD, headers=ALICE, status=404).json
    assert app.get(RECORD.rsplit("/", 1)[0], headers=ALICE).json["data"] == []
    # Callers who may not write there learn nothing more than on the record.
    app.delete(RECORD + "/attachment", headers=BOB, status=403)
    assert stored_files(files_dir) == []


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_body_cut_inside_the_file_is_a_400_that_leaves_nothing(
    app: webtest.TestApp, files_dir: Path
) -> None:
    headers = {**ALICE, "Content-Type": "multipart/form-data; boundary=xyz"}
    complete = (
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="attachment"; filename="a.txt"\r\n\r\n'
        + b"x" * 200_000
        + b"\r\n--xyz--\r\n"
    )
    descriptors = []
    # In the file, in the closing boundary; the first request opens the
    # connections the app keeps.
    for cut in (150_000, 150_000, len(complete) - 10):
        response = app.post(RECORD + "/attachment", complete[:cut], headers=headers, status=400)
        assert response.json["errno"] == 107
        assert response.json["message"] == "Invalid multipart body: it ends early"
        descriptors.append(open_descriptors())
    # The staged files are closed (hence gone), not left to the garbage collector.
    assert descriptors[0] == descriptors[1] == descriptors[2]
    assert stored_files(files_dir) == []
    app.get(RECORD, headers=ALICE, status=404)


def test_the_mimetype_is_guessed_when_the_client_gives_none(app: webtest.TestApp) -> None:
    body = (
        b"--xyz\r\n"
        b'Content-Disposition: form-data; name="attachment"; filename="a.json"\r\n\r\n'
        b"{}\r\n--xyz--\r\n"
    )
    headers = {**ALICE, "Content-Type": "multipart/form-data; boundary=xyz"}
    response = app.post(RECORD + "/attachment", body, headers=headers, status=201)
    assert response.json["mimetype"] == "application/json"
    assert response.json["size"] == 2


def test_other_methods_are_not_allowed(app: webtest.TestApp) -> None:
    response = app.get(RECORD + "/attachment", headers=ALICE, status=405)
    assert response.json["errno"] == 115


# --- Errors: nothing stored, nothing left behind --------------------------------


def _error(response: webtest.TestResponse) -> tuple[int, int, str]:
    body = response.json
    return body["code"], body["errno"], body["message"]


def test_a_body_that_is_not_multipart_is_refused(app: webtest.TestApp, files_dir: Path) -> None:
    response = app.post_json(RECORD + "/attachment", {"data": {}}, headers=ALICE, status=400)
    assert _error(response) == (400, 107, "Content-Type should be multipart/form-data")
    assert stored_files(files_dir) == []


def test_a_missing_file_is_refused(app: webtest.TestApp, files_dir: Path) -> None:
    multipart = "multipart/form-data"
    response = app.post(
        RECORD + "/attachment",
        params={"data": "{}"},
        content_type=multipart,
        headers=ALICE,
        status=400,
    )
    assert _error(response) == (400, 109, "Attachment missing.")
    response = app.post(
        RECORD + "/attachment",
        params={"attachment": "text"},
        content_type=multipart,
        headers=ALICE,
        status=400,
    )
    assert _error(response) == (400, 107, "body: Filename is required.")
    app.get(RECORD, headers=ALICE, status=404)


def test_invalid_record_fields_are_refused(app: webtest.TestApp, files_dir: Path) -> None:
    cases = [
        ({"data": "{oops"}, "body: data is not valid JSON"),
        ({"permissions": "[1"}, "body: permissions is not valid JSON"),
        ({"colour": "blue"}, "body: 'colour' not in ('data', 'permissions')"),
    ]
    for fields, message in cases:
        response = app.post(
            RECORD + "/attachment",
            params=fields,
            upload_files=[("attachment", "a.txt", b"a")],
            headers=ALICE,
            status=400,
        )
        assert response.json["errno"] == 109
        assert response.json["message"].startswith(message)
    response = app.post(
        RECORD + "/attachment",
        upload_files=[("attachment", "a.txt", b"a"), ("data", "data.json", b"{}")],
        headers=ALICE,
        status=400,
    )
    assert response.json["message"] == (
        "body: 'data' field should be passed as form data, not files"
    )
    upload(app, data=["not", "an", "object"], status=400)  # type: ignore[arg-type]
    upload(app, permissions={"write": "alice"}, status=400)
    assert stored_files(files_dir) == []
    app.get(RECORD, headers=ALICE, status=404)


def test_a_malformed_multipart_body_is_a_400(app: webtest.TestApp) -> None:
    headers = {**ALICE, "Content-Type": "multipart/form-data; boundary=xyz"}
    body = b'--xyz\r\nContent-Disposition: form-data; name="attachment"; filename="a.txt"\r\n'
    response = app.post(RECORD + "/attachment", body, headers=headers, status=400)
    assert response.json["errno"] == 107
    headers["Content-Type"] = "multipart/form-data"
    app.post(RECORD + "/attachment", b"", headers=headers, status=400)


def test_missing_parents_are_404_for_readers(app: webtest.TestApp, files_dir: Path) -> None:
    response = upload(app, "/v1/buckets/blog/collections/missing/records/r1", status=404)
    assert response.json["details"] == {"id": "missing", "resource_name": "collection"}
    response = upload(app, "/v1/buckets/blog/collections/articles/records/a%20b", status=400)
    assert stored_files(files_dir) == []


# --- Permissions -----------------------------------------------------------------


def test_uploading_needs_write_on_the_record_or_create_in_the_collection(
    app: webtest.TestApp, files_dir: Path
) -> None:
    upload(app, headers={}, status=401)
    upload(app, headers=BOB, status=403)
    bob = principal_of(app, BOB)
    app.patch_json(
        "/v1/buckets/blog/collections/articles",
        {"permissions": {"record:create": [bob]}},
        headers=ALICE,
    )
    upload(app, "/v1/buckets/blog/collections/articles/records/bobs", headers=BOB)
    upload(app, headers=ALICE)
    # Bob may create records, not replace alice's file.
    upload(app, headers=BOB, status=403)
    app.delete(RECORD + "/attachment", headers=BOB, status=403)
    app.patch_json(RECORD, {"permissions": {"write": [bob]}}, headers=ALICE)
    upload(app, headers=BOB, status=200)
    app.delete(RECORD + "/attachment", headers=BOB, status=204)
    assert len(stored_files(files_dir)) == 1  # bob's own record's file


def test_anonymous_writes_on_public_collections(app: webtest.TestApp) -> None:
    app.patch_json(
        "/v1/buckets/blog/collections/articles",
        {"permissions": {"record:create": ["system.Everyone"]}},
        headers=ALICE,
    )
    upload(app, headers={}, status=201)


def test_preconditions_apply_to_the_record(app: webtest.TestApp, files_dir: Path) -> None:
    upload(app)
    [kept] = stored_files(files_dir)
    headers = {**ALICE, "If-Match": '"1"'}
    response = upload(app, filename="new.txt", headers=headers, status=412)
    assert response.json["errno"] == 114
    assert stored_files(files_dir) == [kept]
    etag = app.get(RECORD, headers=ALICE).headers["ETag"]
    upload(app, filename="new.txt", headers={**ALICE, "If-Match": etag}, status=200)


def test_the_default_bucket_takes_uploads(attachment_app, files_dir: Path) -> None:
    app = attachment_app(includes="kinto.plugins.default_bucket kinto_attachment")
    uri = "/v1/buckets/default/collections/photos/records/p1"
    response = upload(app, uri, filename="cat.png", content=b"\x89PNG")
    assert response.status_code == 201
    bucket_id = app.get("/v1/", headers=ALICE).json["user"]["bucket"]
    record = app.get(f"/v1/buckets/{bucket_id}/collections/photos/records/p1", headers=ALICE)
    assert record.json["data"]["attachment"] == response.json
    app.delete(uri + "/attachment", headers=ALICE, status=204)
    assert stored_files(files_dir) == []


def test_the_plugin_answers_to_its_own_name(attachment_app) -> None:
    app = attachment_app(includes="kinto_clone.plugins.attachment")
    assert "attachments" in app.get("/v1/").json["capabilities"]


def test_read_only_servers_take_no_upload(attachment_app) -> None:
    app = attachment_app({"kinto.readonly": "true"})
    app.post(RECORD + "/attachment", headers=ALICE, status=405)
    assert app.get("/v1/__heartbeat__").json["attachments"] is True


def test_the_heartbeat_writes_and_deletes_a_file(app: webtest.TestApp, files_dir: Path) -> None:
    assert app.get("/v1/__heartbeat__").json["attachments"] is True
    assert stored_files(files_dir) == []


def test_oversized_record_fields_are_refused(
    app: webtest.TestApp, files_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_module, "MAX_FIELD_BYTES", 100)
    response = upload(app, data={"text": "x" * 200}, status=413)
    assert response.json["errno"] == 113
    assert stored_files(files_dir) == []


def test_file_names_keep_their_unicode(app: webtest.TestApp) -> None:
    assert upload(app, filename="résumé été.txt").json["filename"] == "résumé été.txt"
