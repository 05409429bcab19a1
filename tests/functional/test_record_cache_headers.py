"""Cache headers of record reads (``Cache-Control``, ``Expires``, ``Pragma``).

Publishers of public data let anonymous readers (and the proxies between) cache
it, per collection (its ``cache_expires`` field) or in the settings.  What an
authenticated read answers depends on who asks, so it is never cached.  The
headers and the precedence of the settings are those of Kinto 26.5.0.
"""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import webtest

from tests.functional.conftest import MakeApp
from tests.functional.helpers import ALICE, ANONYMOUS

COLLECTION = "/v1/buckets/b/collections/c"
READS = [f"{COLLECTION}/records", f"{COLLECTION}/records/r"]

NOT_CACHED = {"Cache-Control": "no-cache, no-store"}
# Stands for an ``Expires`` header ``max-age`` seconds after the response was sent.
AT_MAX_AGE = "at max-age"
# WebOb's ``cache_expires(0)``: already expired, revalidate every time.
EXPIRED = {
    "Cache-Control": "max-age=0, must-revalidate, no-cache, no-store",
    "Expires": AT_MAX_AGE,
    "Pragma": "no-cache",
}


def publish(app: webtest.TestApp, **collection: Any) -> webtest.TestApp:
    """Alice's collection ``b/c`` holding record ``r``, readable by everyone."""
    app.put_json("/v1/buckets/b", {}, headers=ALICE)
    body = {"data": collection, "permissions": {"read": ["system.Everyone"]}}
    app.put_json(COLLECTION, body, headers=ALICE)
    app.put_json(f"{COLLECTION}/records/r", {"data": {"x": 1}}, headers=ALICE)
    return app


def cached_for(seconds: int) -> dict[str, str]:
    return {"Cache-Control": f"max-age={seconds}", "Expires": AT_MAX_AGE}


def cache_headers(app: webtest.TestApp, path: str, headers: dict[str, str]) -> dict[str, str]:
    """The cache headers of a read, ``Expires`` replaced by :data:`AT_MAX_AGE`
    when it agrees with ``max-age``, so that expectations need no clock."""
    before = int(time.time())
    response = app.get(path, headers=headers, status=200)
    after = int(time.time())
    found = {
        name: response.headers[name]
        for name in ("Cache-Control", "Expires", "Pragma")
        if name in response.headers
    }
    max_age = re.search(r"max-age=(-?\d+)", found.get("Cache-Control", ""))
    if "Expires" in found and max_age:
        # HTTP dates drop the fraction of a second.
        expires = parsedate_to_datetime(found["Expires"]).timestamp()
        if before + int(max_age[1]) <= expires <= after + int(max_age[1]):
            found["Expires"] = AT_MAX_AGE
    return found


@pytest.mark.parametrize("path", READS)
def test_anonymous_reads_of_a_collection_with_cache_expires_are_cached(
    app: webtest.TestApp, path: str
) -> None:
    publish(app, cache_expires=3600)
    assert cache_headers(app, path, ANONYMOUS) == cached_for(3600)


@pytest.mark.parametrize("path", READS)
def test_anonymous_reads_are_not_cached_by_default(app: webtest.TestApp, path: str) -> None:
    publish(app)
    assert cache_headers(app, path, ANONYMOUS) == NOT_CACHED


@pytest.mark.parametrize("path", READS)
def test_authenticated_reads_are_never_cached(app: webtest.TestApp, path: str) -> None:
    publish(app, cache_expires=3600)
    assert cache_headers(app, path, ALICE) == NOT_CACHED


def test_authenticated_reads_ignore_the_settings(make_app: MakeApp) -> None:
    app = publish(make_app(**{"kinto.b.c.record_cache_expires_seconds": "60"}))
    for path in READS:
        assert cache_headers(app, path, ALICE) == NOT_CACHED


@pytest.mark.parametrize("path", READS)
def test_cache_expires_0_marks_reads_as_expired(app: webtest.TestApp, path: str) -> None:
    """0 is not "no caching" (``no-cache, no-store`` alone): WebOb's expired
    response, ``Expires`` now and ``Pragma: no-cache`` included."""
    publish(app, cache_expires=0)
    assert cache_headers(app, path, ANONYMOUS) == EXPIRED


BY_COLLECTION = "kinto.b.c.record_cache_expires_seconds"
BY_BUCKET = "kinto.b.record_cache_expires_seconds"
GENERIC = "kinto.record_cache_expires_seconds"
LEGACY_BY_COLLECTION = "kinto.b_c_record_cache_expires_seconds"
LEGACY_BY_BUCKET = "kinto.b_record_cache_expires_seconds"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({GENERIC: "30"}, cached_for(30)),
        ({BY_COLLECTION: "20"}, cached_for(20)),
        ({BY_BUCKET: "40"}, cached_for(40)),
        ({LEGACY_BY_COLLECTION: "50"}, cached_for(50)),
        ({LEGACY_BY_BUCKET: "60"}, cached_for(60)),
        ({"b.c.record_cache_expires_seconds": "20"}, cached_for(20)),
        ({BY_COLLECTION: "20", BY_BUCKET: "40", GENERIC: "30"}, cached_for(20)),
        ({BY_BUCKET: "40", GENERIC: "30", LEGACY_BY_COLLECTION: "50"}, cached_for(40)),
        # The generic setting comes before the legacy ones, not after.
        ({GENERIC: "30", LEGACY_BY_COLLECTION: "50", LEGACY_BY_BUCKET: "60"}, cached_for(30)),
        ({LEGACY_BY_COLLECTION: "50", LEGACY_BY_BUCKET: "60"}, cached_for(50)),
        # A 0 is a value: it stops the search rather than deferring to the next key.
        ({BY_COLLECTION: "0", GENERIC: "30"}, EXPIRED),
        ({GENERIC: "0"}, EXPIRED),
        (
            {
                "kinto.z.record_cache_expires_seconds": "40",
                "kinto.b.z.record_cache_expires_seconds": "20",
            },
            NOT_CACHED,
        ),
    ],
    ids=[
        "generic",
        "by-collection",
        "by-bucket",
        "legacy-by-collection",
        "legacy-by-bucket",
        "unprefixed",
        "by-collection-first",
        "by-bucket-before-generic",
        "generic-before-legacy",
        "legacy-by-collection-before-by-bucket",
        "zero-by-collection",
        "zero-generic",
        "other-bucket-and-collection",
    ],
)
def test_settings_and_their_precedence(
    make_app: MakeApp, settings: dict[str, str], expected: dict[str, str]
) -> None:
    app = publish(make_app(**settings))
    for path in READS:
        assert cache_headers(app, path, ANONYMOUS) == expected


@pytest.mark.parametrize(
    ("settings", "cache_expires", "expected"),
    [
        ({GENERIC: "30"}, 100, cached_for(100)),
        ({GENERIC: "30"}, 10, cached_for(30)),
        ({BY_COLLECTION: "20"}, 10, cached_for(20)),
        # A collection's 0 does not cut a setting short...
        ({GENERIC: "30"}, 0, cached_for(30)),
        # ... and a setting of 0 counts as none against the collection's field.
        ({BY_COLLECTION: "0"}, 10, cached_for(10)),
        ({BY_COLLECTION: "0"}, 0, EXPIRED),
    ],
    ids=[
        "collection-longer",
        "setting-longer",
        "by-collection-setting-longer",
        "collection-zero",
        "setting-zero",
        "both-zero",
    ],
)
def test_the_longer_of_the_collection_field_and_the_settings_wins(
    make_app: MakeApp, settings: dict[str, str], cache_expires: int, expected: dict[str, str]
) -> None:
    app = publish(make_app(**settings), cache_expires=cache_expires)
    for path in READS:
        assert cache_headers(app, path, ANONYMOUS) == expected


def test_the_collection_field_applies_at_once(app: webtest.TestApp) -> None:
    """The field is read with the collection each request checks exists, not
    remembered from an earlier read."""
    publish(app, cache_expires=3600)
    assert cache_headers(app, READS[0], ANONYMOUS) == cached_for(3600)
    app.patch_json(COLLECTION, {"data": {"cache_expires": 60}}, headers=ALICE)
    assert cache_headers(app, READS[0], ANONYMOUS) == cached_for(60)
    everyone = {"read": ["system.Everyone"]}
    app.put_json(COLLECTION, {"data": {}, "permissions": everyone}, headers=ALICE)
    assert cache_headers(app, READS[0], ANONYMOUS) == NOT_CACHED


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30", cached_for(30)), ("0", NOT_CACHED)],
    ids=["thirty", "zero-means-no-caching"],
)
def test_other_objects_follow_their_resource_setting(
    make_app: MakeApp, value: str, expected: dict[str, str]
) -> None:
    """Buckets (like collections and groups) have one setting each; unlike a
    record's, a 0 there turns caching off rather than expiring the response."""
    app = publish(make_app(**{"kinto.bucket_cache_expires_seconds": value}))
    app.patch_json("/v1/buckets/b", {"permissions": {"read": ["system.Everyone"]}}, headers=ALICE)
    assert cache_headers(app, "/v1/buckets/b", ANONYMOUS) == expected
    assert cache_headers(app, "/v1/buckets/b", ALICE) == NOT_CACHED
