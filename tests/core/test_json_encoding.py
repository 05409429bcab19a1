"""Response JSON byte for byte as Kinto 26.5.0 writes it (python-rapidjson's ``dumps``).

Each value is encoded by both and the bytes compared: the corpus names the cases
where orjson's own output differs from Kinto's (non-ASCII, control characters,
floats between 1e-9 and 1e-4, integers past 64 bits), and hypothesis looks for
more.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

import pytest
import rapidjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kinto_clone.core.json_encoding import dumps, dumps_bytes

CORPUS: dict[str, Any] = {
    "nested objects": {"a": {"b": [1, 2, {"c": None, "d": []}], "e": {}}, "z": True, "y": False},
    "key order as inserted": {"z": 1, "a": 2, "m": {"b": 1, "a": 2}},
    "empty containers": [[], {}, "", [[]], {"": {}}],
    "latin-1": "été à Noël, ÿ",
    "BMP beyond latin-1": "€ ☃ 中文 \u2028\u2029 \ufeff \uffff",
    "astral characters": "😀 𝄞 \U0010ffff",
    "non-ASCII keys": {"clé": "valeur", "😀": ["é"]},
    "control characters": "\x00\x01\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x1a\x1f\x7f",
    "control and non-ASCII together": "\x1fé\x1a😀\x0b",
    "slash, angle brackets, quotes, backslashes": '/</script>&\'"\\\\"',
    "escape look-alikes in text": ["\\u001f", "\\\\u001f", "\\u00e9", "\\x1f"],
    "float look-alikes in text": ["0.00001", ":1e-7,", "[1e-7]", "a,1e-6}"],
    "integers at the 64-bit edges": [2**63 - 1, -(2**63), 2**64 - 1, 0, -1],
    "integers beyond 64 bits": [2**64, -(2**63) - 1, 2**70, -(10**30), 10**40],
    "floats": [1.0, 1e16, 1e-7, 0.1, -0.0, 1.5e300, 1e15, 123456789.123, 5e-324],
    # Apart: one of them in a document sends the whole of it down the exact path.
    "floats orjson spells 0.0000d": [1e-5, -1.2e-5, 9.99e-5],
    "floats orjson spells de-d": [7.7e-6, -3.3e-9, 1e-9],
    "floats next to orjson's spelling": [1e-4, 1e-10, 1.0001e-4, 100.00001, 10.00001],
    "large floats": [1e21, 1e22, 1.7976931348623157e308, 12345678901234567890.0],
    "a lone float spelled 0.0000d": 1e-5,
    "a lone float spelled de-d": 1e-7,
    "booleans and null": [True, False, None, {"t": True, "f": False, "n": None}],
    "a record": {
        "id": "7c3a3f5e-4e1b-4c7e-9e2f-0a1b2c3d4e5f",
        "last_modified": 1765000000000,
        "title": "Tâche n°1 😀",
        "done": False,
        "n": 12,
    },
}


def kinto_bytes(value: Any) -> bytes:
    return rapidjson.dumps(value).encode("ascii")


@pytest.mark.parametrize("value", CORPUS.values(), ids=list(CORPUS))
def test_bytes_are_kintos(value: Any) -> None:
    assert dumps_bytes(value) == kinto_bytes(value)
    assert dumps(value) == rapidjson.dumps(value)


def test_spelling_of_the_cases_orjson_gets_wrong() -> None:
    """The expected bytes spelled out, should the reference encoder ever change."""
    value = {"t": "é😀\x1f\x7f", "f": [1e-5, 1e-7, 1e16], "i": 2**64}
    expected = (
        b'{"t":"\\u00E9\\uD83D\\uDE00\\u001F\x7f",'
        b'"f":[1e-05,1e-07,1e+16],"i":18446744073709551616}'
    )
    assert dumps_bytes(value) == expected


def test_a_lone_surrogate_is_escaped_not_an_error() -> None:
    """rapidjson refuses it (Kinto answers 500); the standard library's spelling, upper-cased."""
    assert dumps_bytes({"s": "a\ud800b"}) == b'{"s":"a\\uD800b"}'


class Token:
    def __init__(self, text: str) -> None:
        self.text = text


def as_text(value: Any) -> str:
    """A ``default`` hook, like the renderer's adapters (bytes, ``__json__``)."""
    if isinstance(value, Token):
        return value.text
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclasses.dataclass
class Point:
    x: int


def test_default_is_called_for_what_json_cannot_hold() -> None:
    """As with ``json.dumps``: datetimes and dataclasses reach ``default`` too."""
    value = {"a": Token("é"), "b": b"raw", "c": datetime.date(2026, 1, 2), "big": 2**65}
    assert dumps_bytes(value, default=as_text) == (
        b'{"a":"\\u00E9","b":"raw","c":"2026-01-02","big":36893488147419103232}'
    )
    with pytest.raises(TypeError, match="Point is not JSON serializable"):
        dumps_bytes({"p": Point(1)}, default=as_text)
    with pytest.raises(TypeError):
        dumps_bytes({"p": Point(1)})


def test_output_is_compact_and_parses_back() -> None:
    value = CORPUS["a record"]
    body = dumps_bytes({"data": [value] * 3})
    assert b", " not in body and b'": ' not in body
    assert json.loads(body) == {"data": [value] * 3}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e-10, max_value=1e-3)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_any_json_value_is_encoded_as_kinto_does(value: Any) -> None:
    assert dumps_bytes(value) == kinto_bytes(value)
