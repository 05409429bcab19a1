"""Kinto's documented settings of a shared cache, checked end to end: plural
``DELETE`` pagination tokens are kept in the cache and used once."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import webtest

import kinto_clone

ALICE = {"Authorization": "Basic YWxpY2U6cw=="}


def check_single_use_tokens(
    cache_settings: Mapping[str, str], token_stored: Callable[[], None] = lambda: None
) -> webtest.TestApp:
    """Delete three buckets one page at a time on an app with ``cache_settings``;
    ``token_stored`` checks the cache after the first page.  Returns the app, for the
    caller to release its cache."""
    app = webtest.TestApp(
        kinto_clone.main(
            {},
            **{
                **cache_settings,
                "kinto.paginate_by": "1",
                "multiauth.policies": "basicauth",
                "kinto.userid_hmac_secret": "secret",
            },
        )
    )
    for bucket in ("a", "b", "c"):
        app.put_json(f"/v1/buckets/{bucket}", {}, headers=ALICE)
    first = app.delete("/v1/buckets", headers=ALICE)
    token_stored()
    second = app.delete(first.headers["Next-Page"], headers=ALICE)
    assert len(first.json["data"]) == len(second.json["data"]) == 1
    # Plural DELETE tokens are single-use, as in Kinto.
    app.delete(first.headers["Next-Page"], headers=ALICE, status=400)
    assert app.get("/v1/__heartbeat__").json["cache"] is True
    return app
