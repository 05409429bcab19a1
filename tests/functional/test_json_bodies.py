"""Response bodies byte for byte as Kinto 26.5.0 writes them.

Kinto renders views with python-rapidjson (compact, non-ASCII as upper-case
``\\uXXXX``) and errors with WebOb's ``response.json`` (the standard library,
compact, lower-case escapes).  A body is compared with its own value re-encoded
that way, so the test holds whatever the backend does to numbers; these tests
also run against Kinto itself (``FUNCTIONAL_REFERENCE_URL``).
"""

from __future__ import annotations

import json

import rapidjson
import webtest

from tests.functional.helpers import ALICE

RECORDS = "/v1/buckets/b/collections/c/records"
DATA = {
    "title": "été 😀 中文",
    "controls": "tab\tline\nunit\x1fvt\x0bdel\x7f",
    "markup": "</script><b>&amp;</b> a/b",
    # Keys in PostgreSQL's jsonb order, which that backend returns (as Kinto's does).
    "nested": {"a": False, "z": [1, {"x": True, "y": None}]},
    # Past 64 bits Kinto's parser makes floats: tests/core/test_json_encoding.py has those.
    "numbers": [0, -1, 12, 2**63 - 1, 2**64 - 1, 0.1, 1.0, 2.5, 1e-07, -0.5],
}


class _AnyInt:
    """Equal to any integer (``last_modified``)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int)


ANY_INT = _AnyInt()


def as_kinto_renders(body: bytes) -> bytes:
    return rapidjson.dumps(json.loads(body)).encode("ascii")


def test_a_record_is_written_as_kinto_writes_it(tree: webtest.TestApp) -> None:
    written = tree.put_json(f"{RECORDS}/r", {"data": DATA}, headers=ALICE)
    read = tree.get(f"{RECORDS}/r", headers=ALICE)
    for response in (written, read):
        assert response.body == as_kinto_renders(response.body)
        assert response.json["data"] == {"id": "r", "last_modified": ANY_INT, **DATA}
    body = read.body
    assert b'"title":"\\u00E9t\\u00E9 \\uD83D\\uDE00 \\u4E2D\\u6587"' in body
    assert b'"controls":"tab\\tline\\nunit\\u001Fvt\\u000Bdel\x7f"' in body
    assert b'"markup":"</script><b>&amp;</b> a/b"' in body
    assert b'"nested":{"a":false,"z":[1,{"x":true,"y":null}]}' in body
    assert b'"numbers":[0,-1,12,9223372036854775807,18446744073709551615,0.1,1.0,2.5,' in body
    assert b",1e-07,-0.5]" in body


def test_a_list_page_is_compact(tree: webtest.TestApp) -> None:
    tree.put_json(f"{RECORDS}/u", {"data": {"title": "ça"}}, headers=ALICE)
    response = tree.get(RECORDS, headers=ALICE)
    assert response.body == as_kinto_renders(response.body)
    assert response.body.startswith(b'{"data":[{')
    assert b'"title":"\\u00E7a"' in response.body


def test_a_batch_response_is_compact(tree: webtest.TestApp) -> None:
    requests = [{"method": "GET", "path": "/buckets/b/collections/c/records/r"}]
    response = tree.post_json("/v1/batch", {"requests": requests}, headers=ALICE)
    assert response.body == as_kinto_renders(response.body)
    first = b'{"responses":[{"path":"/v1/buckets/b/collections/c/records/r","status":200,'
    assert response.body.startswith(first + b'"headers":{')


def test_an_error_body_is_webobs_compact_json(tree: webtest.TestApp) -> None:
    """Kinto sets ``response.json``: compact, but non-ASCII in lower-case escapes."""
    response = tree.put_json(f"{RECORDS}/r", {"data": "été"}, headers=ALICE, status=400)
    assert response.body == json.dumps(response.json, separators=(",", ":")).encode()
    assert response.body.startswith(b'{"code":400,"errno":107,"error":"Invalid parameters",')
    assert b'\\"\\u00e9t\\u00e9\\" is not a mapping type' in response.body
    missing = tree.get(f"{RECORDS}/missing", headers=ALICE, status=404)
    assert missing.body == json.dumps(missing.json, separators=(",", ":")).encode()


def test_an_alert_header_is_compact(tree: webtest.TestApp) -> None:
    response = tree.get(f"{RECORDS}?_to=1", headers=ALICE)
    alert = response.headers["Alert"]
    assert alert == rapidjson.dumps(json.loads(alert))
    assert alert.startswith('{"code":"soft-eol","message":"_to is now deprecated')
