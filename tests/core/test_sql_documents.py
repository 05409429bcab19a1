"""Stored documents decoded by orjson, exactly as ``json.loads`` decodes them."""

from __future__ import annotations

import json

import pytest

from kinto_clone.core.sql.tables import load_document, load_documents

# Where orjson and ``json.loads`` part: integers beyond 64 bits (orjson makes
# them floats), lone surrogates and overflowing numbers (orjson refuses them).
DOCUMENTS = [
    '{"title": "task 1", "n": 1, "tags": ["a", "b"], "done": false, "none": null}',
    '{"z": 1, "a": 2, "m": {"y": [], "b": {}}}',
    '{"edges": [9223372036854775807, -9223372036854775808, 18446744073709551615]}',
    '{"big": 18446744073709551616}',
    '{"small": -9223372036854775809}',
    '{"huge": 1000000000000000000000000000000, "list": [1, 2]}',
    '{"digits in text": "12345678901234567890", "n": 1}',
    '{"floats": [0.1, 1.0, 2.5, 1e-07, -0.0, 1e300, 1.7976931348623157e308]}',
    '{"exponent": 1E2, "long fraction": 0.1000000000000000055511151231257827}',
    '{"text": "\\u00e9\\ud83d\\ude00 caf\\u00e9 \\u0000 \\"quoted\\""}',
    '{"raw": "é😀"}',
    '{"lone": "\\ud800"}',
    '{"inf": 1e400}',
    "[]",
    '"text"',
    "12",
]


def exactly(value: object) -> str:
    """A text telling apart what ``==`` does not: 1 and 1.0, key order."""
    return repr(value)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_one_document_decodes_as_json_loads(text: str) -> None:
    assert exactly(load_document(text)) == exactly(json.loads(text))
    assert exactly(load_document(text.encode("utf-8"))) == exactly(json.loads(text))


def test_a_page_of_documents_decodes_as_json_loads_each() -> None:
    expected = [json.loads(text) for text in DOCUMENTS]
    assert exactly(load_documents(DOCUMENTS)) == exactly(expected)


@pytest.mark.parametrize("text", DOCUMENTS)
def test_one_odd_document_in_a_page_decodes_as_json_loads(text: str) -> None:
    page = [DOCUMENTS[0], text, DOCUMENTS[1]]
    assert exactly(load_documents(page)) == exactly([json.loads(t) for t in page])


def test_no_documents() -> None:
    assert load_documents([]) == []
