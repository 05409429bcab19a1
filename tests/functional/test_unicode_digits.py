"""Numbers written with non-ASCII digits get a 400, never a 500.

``"³".isdigit()`` is true but ``int("³")`` fails: every number read from a URL
or a header is checked with ``isdecimal()``, which holds exactly for what
``int()`` reads (found by tests/fuzz on ``/snapshot/collections/c@³``).
"""

from __future__ import annotations

import pytest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE

RECORDS = "/v1/buckets/b/collections/c/records"
SUPERSCRIPT_THREE = "%C2%B3"

CASES = [
    ("DELETE", f"{RECORDS}/r?last_modified={SUPERSCRIPT_THREE}", {}),
    ("GET", f"{RECORDS}?_since={SUPERSCRIPT_THREE}", {}),
    ("GET", f"{RECORDS}?_before={SUPERSCRIPT_THREE}", {}),
    ("GET", f"{RECORDS}?_limit={SUPERSCRIPT_THREE}", {}),
    ("GET", f"{RECORDS}?min_last_modified={SUPERSCRIPT_THREE}", {}),
    ("GET", f"{RECORDS}?last_modified={SUPERSCRIPT_THREE}", {}),
    ("GET", f"{RECORDS}/r", {"If-Match": '"\xb3"'}),
    ("GET", f"{RECORDS}/r", {"If-None-Match": '"\xb3"'}),
    ("GET", f"/v1/buckets/b/snapshot/collections/c@{SUPERSCRIPT_THREE}", {}),
    ("GET", f"/v1/buckets/b/history?_since={SUPERSCRIPT_THREE}", {}),
]


@pytest.mark.parametrize(("method", "path", "headers"), CASES)
def test_non_ascii_digits_are_invalid(
    make_app: MakeApp, method: str, path: str, headers: dict[str, str]
) -> None:
    app = make_app(**{"kinto.includes": "kinto.plugins.history"})
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    app.put_json(f"{RECORDS}/r", {"data": {}}, headers=ALICE)
    response = app.request(path, method=method, headers={**ALICE, **headers}, status=400)
    assert response.json["errno"] == 107


def test_decimal_digits_of_other_scripts_are_numbers(make_app: MakeApp) -> None:
    """``int()`` reads Arabic-Indic digits, as Kinto does: ``_limit=٣`` is 3."""
    app = make_app()
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    app.put_json("/v1/buckets/b/collections/c", {}, headers=ALICE)
    for record in range(5):
        app.put_json(f"{RECORDS}/r{record}", {"data": {}}, headers=ALICE)
    response = app.get(f"{RECORDS}?_limit=%D9%A3", headers=ALICE)
    assert len(response.json["data"]) == 3
