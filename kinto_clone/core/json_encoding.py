"""JSON responses byte for byte as Kinto writes them, at orjson's speed.

Kinto encodes with python-rapidjson's defaults: no spaces, keys in insertion
order, floats as Python's ``repr``, every character past ASCII as ``\\uXXXX``
in upper-case hex (an astral character as its surrogate pair), and control
characters as ``\\b \\t \\n \\f \\r`` or upper-case ``\\u00XX``.  orjson
writes the same document several times faster than the standard library, but:

* writes non-ASCII characters as raw UTF-8: such output is escaped afterwards,
  one run of non-ASCII characters at a time (the cost of a page full of accents);
* writes control characters in lower-case hex (``\\u001f``): upper-cased;
* spells floats with a magnitude in [1e-9, 1e-4) its own way (``0.00001``,
  ``1e-7`` where Python writes ``1e-05``, ``1e-07``), and refuses integers past
  64 bits, non-string keys and lone surrogates: those documents are encoded by
  the standard library instead (compact, ``repr`` floats), then escaped alike.
  A lone surrogate comes out as ``\\uD800`` (rapidjson refuses it: Kinto answers 500);
* would write NaN and infinities as ``null``: no response holds one, as request
  bodies refuse them (:mod:`kinto_clone.core.json_values`).
"""

from __future__ import annotations

import codecs
import functools
import json
import re
from collections.abc import Callable
from typing import Any

import orjson

# Objects these would write natively reach ``default`` instead, as with ``json.dumps``.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

# How orjson spells a float whose magnitude is in [1e-9, 1e-4): ``0.0000d...``
# or ``d[.ddd]e-d``.  These searches find a literal first (a scan the speed of
# orjson's own encoding, where a context-checking pattern is 20 times slower),
# so the same text inside a string, or ``10.00001``, only costs a slower, still
# exact, encoding.
_ORJSON_FIVE_DECIMAL_ZEROS = b"0.0000"
_ORJSON_ONE_DIGIT_EXPONENT = re.compile(rb"e-[1-9](?:[,\]}]|$)")

# An escaped backslash, or a control character escaped in lower-case hex.
_LOWER_CASE_CONTROL = re.compile(rb"\\\\|\\u00[01][a-f]")

_ESCAPE_ERRORS = "kinto_clone.json_escape"


@functools.lru_cache(maxsize=4096)
def _escaped(characters: str) -> str:
    """``\\uXXXX`` escapes of non-ASCII characters, cached: the same accented
    letters come back on every record of a page.

    Encoding to UTF-16 gives astral characters their surrogate pairs, and
    ``surrogatepass`` lets a lone surrogate through as itself.
    """
    units = characters.encode("utf-16-be", "surrogatepass").hex().upper()
    return "".join([f"\\u{units[i : i + 4]}" for i in range(0, len(units), 4)])


def _escape_non_ascii(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: one run of non-ASCII characters, escaped."""
    assert isinstance(error, UnicodeEncodeError)
    return _escaped(error.object[error.start : error.end]), error.end


codecs.register_error(_ESCAPE_ERRORS, _escape_non_ascii)


def _upper_case_control(match: re.Match[bytes]) -> bytes:
    escape = match[0]
    return escape if len(escape) == 2 else escape[:4] + escape[4:].upper()


def _as_kinto_writes(body: bytes) -> bytes:
    """Compact JSON (UTF-8, lone surrogates passed) in Kinto's spelling of characters."""
    # Before non-ASCII escaping, which would put ``\\u00`` in most such documents.
    # A one-byte search runs at memchr's speed, the pattern at a twentieth of it.
    if b"\\" in body and b"\\u00" in body:
        body = _LOWER_CASE_CONTROL.sub(_upper_case_control, body)
    if not body.isascii():
        body = body.decode("utf-8", "surrogatepass").encode("ascii", _ESCAPE_ERRORS)
    return body


def dumps_bytes(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """``value`` as the ASCII bytes of the JSON document Kinto would send."""
    try:
        body = orjson.dumps(value, default=default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        body = None
    if (
        body is None
        or _ORJSON_FIVE_DECIMAL_ZEROS in body
        or _ORJSON_ONE_DIGIT_EXPONENT.search(body) is not None
    ):
        text = json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":"))
        body = text.encode("utf-8", "surrogatepass")
    return _as_kinto_writes(body)


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """:func:`dumps_bytes` as text, for serializer hooks and header values."""
    return dumps_bytes(value, default=default).decode("ascii")
