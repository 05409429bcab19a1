"""The official JSON-Schema-Test-Suite (Draft 7, 2019-09, 2020-12), run through collections.

The suite comes from the jsonschema sdist on PyPI (its ``json/tests/`` folder), which
pip downloads once into ``.cache/json-schema-test-suite``; without it the tests skip,
or fail under ``CI=true``.  Remote references (``refRemote.json`` and every group whose
schema points at the suite's ``localhost:1234`` server) are left out, since the server
never fetches a ``$ref``; so is ``optional/`` (formats, ECMA 262 regexes, bignums).

How a case runs, on an in-process memory app with schema validation enabled:

* Each group's schema becomes the ``schema`` of a new collection (``PUT``), as a client
  would set it: the server checks it against the meta-schemas then.  The suite's
  Draft 7 files do not all say ``$schema``, and a schema without one is validated as
  2020-12 (as Kinto does), so ``$schema`` is added to the Draft 7 groups that lack it:
  that is how a client asks for Draft 7.
* Each test's instance, when it is an object a record can carry unchanged, is sent as
  a record's ``data`` (``POST``): ``201`` when the suite says valid, ``400`` otherwise.
* The other instances (strings, arrays, numbers... or objects holding ``id``,
  ``last_modified`` or ``schema``, which the server manages), and every boolean schema
  (a collection's schema must be an object), and the few values holding a NUL
  character (which the server refuses to store), go through
  :func:`kinto_clone.core.json_schema.validate`: the very function the record view
  calls, with the same draft selection and the same limits, minus the record's
  envelope.

The number of cases per draft is checked, so that a suite that silently lost tests
(or a filter that grew) does not pass unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import webtest

from kinto_clone.core import json_schema
from tests.plugins.conftest import basic_auth, schema_validation_app
from tests.pypi import fetch_sdist

SUITE_SDIST = "4.26.0"  # jsonschema's sdist carrying the suite under json/tests/
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "json-schema-test-suite"
DOWNLOAD_TIMEOUT = 120
SUITE = "JSON-Schema-Test-Suite"
ALICE = basic_auth("alice")
REMOTE = "localhost:1234"
SERVER_FIELDS = ("id", "last_modified", "schema")
DRAFTS = {
    "draft7": "http://json-schema.org/draft-07/schema#",
    "draft2019-09": "https://json-schema.org/draft/2019-09/schema",
    "draft2020-12": "https://json-schema.org/draft/2020-12/schema",
}
# Cases the suite of SUITE_SDIST holds once remote references are left out.
EXPECTED_CASES = {"draft7": 884, "draft2019-09": 1183, "draft2020-12": 1200}


def suite_folder() -> Path:
    """``json/tests`` of the jsonschema sdist, unpacked in the cache (downloaded once)."""
    target = CACHE / f"jsonschema-{SUITE_SDIST}" / "json" / "tests"
    if target.is_dir():
        return target
    fetch_sdist("jsonschema", SUITE_SDIST, CACHE, DOWNLOAD_TIMEOUT, SUITE, only="json/")
    return target


def groups(draft: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file name, group)`` of a draft's required tests, remote references left out."""
    for path in sorted((suite_folder() / draft).glob("*.json")):
        if path.name == "refRemote.json":
            continue
        for group in json.loads(path.read_text()):
            if REMOTE not in json.dumps(group["schema"]):
                yield path.name, group


def with_draft(schema: Any, draft: str) -> Any:
    if isinstance(schema, dict) and "$schema" not in schema:
        return {"$schema": DRAFTS[draft], **schema}
    return schema


def storable(value: Any) -> bool:
    """Whether the server stores ``value``: it refuses NUL characters (PostgreSQL's
    ``jsonb`` cannot hold them), which a few ``enum`` and ``const`` cases use."""
    return "\\u0000" not in json.dumps(value)


def as_collection(schema: Any) -> bool:
    return isinstance(schema, dict) and storable(schema)


def as_record(schema: Any, instance: Any) -> bool:
    """Whether ``instance`` can be sent as a record's data, unchanged, to be validated."""
    return (
        as_collection(schema)
        and isinstance(instance, dict)
        and storable(instance)
        and not any(field in instance for field in SERVER_FIELDS)
    )


def direct_error(schema: Any, instance: Any) -> str | None:
    """The message of the first validation error, if any."""
    try:
        json_schema.validate(instance, schema)
    except json_schema.ValidationError as error:
        return error.message
    return None


@pytest.fixture(scope="module")
def app() -> webtest.TestApp:
    return schema_validation_app("suite")


@pytest.mark.parametrize("draft", list(DRAFTS))
def test_json_schema_test_suite(app: webtest.TestApp, draft: str) -> None:
    cases = through_records = 0
    failures = []
    for index, (file_name, group) in enumerate(groups(draft)):
        schema = with_draft(group["schema"], draft)
        collection = f"/v1/buckets/suite/collections/{draft.replace('.', '')}-{index}"
        if as_collection(schema):
            app.put_json(collection, {"data": {"schema": schema}}, headers=ALICE)
        for test in group["tests"]:
            cases += 1
            instance, expected = test["data"], test["valid"]
            if as_record(schema, instance):
                through_records += 1
                response = app.post_json(
                    f"{collection}/records", {"data": instance}, headers=ALICE, status="*"
                )
                assert response.status_int in (201, 400), response.text
                valid = response.status_int == 201
                if not valid:  # refused by the schema, not for another reason
                    description = response.json["details"][0]["description"]
                    assert description == direct_error(schema, instance), response.text
            else:
                valid = direct_error(schema, instance) is None
            if valid != expected:
                failures.append(f"{file_name}: {group['description']}: {test['description']}")
    print(f"{draft}: {cases - len(failures)}/{cases} passed, {through_records} as records")
    assert failures == []
    assert cases == EXPECTED_CASES[draft]
