"""PostgreSQL health: autovacuum checked once at start-up, heartbeats stay one ping."""

from __future__ import annotations

import logging

import psycopg2
import pytest
import sqlalchemy as sa
import webtest

import kinto_clone
from tests.server import sql_settings

pytestmark = pytest.mark.postgresql


def _settings(url: str) -> dict[str, str]:
    # Neither start-up checks nor heartbeats need the tables.
    settings = {
        "multiauth.policies": "basicauth",
        "kinto.userid_hmac_secret": "health",
        "kinto.skip_schema_check": "true",
    }
    return {**settings, **sql_settings("kinto.core.{kind}.postgresql", url)}


def _server_autovacuum(url: str) -> str:
    server = sa.make_url(url).set(drivername="postgresql")
    with psycopg2.connect(server.render_as_string(hide_password=False)) as connection:
        cursor = connection.cursor()
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0]


def test_start_up_warns_when_autovacuum_is_off(
    postgresql_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kinto_clone.core.sql.dialects"):
        kinto_clone.main({}, **_settings(postgresql_url))
    warnings = [record.getMessage() for record in caplog.records if "autovacuum" in record.msg]
    if _server_autovacuum(postgresql_url) == "on":
        assert warnings == []
    else:
        # One warning for the three backends sharing the database.
        assert len(warnings) == 1
        assert "autovacuum off" in warnings[0]


def test_heartbeat_sends_one_ping_per_backend(postgresql_url: str) -> None:
    app = webtest.TestApp(kinto_clone.main({}, **_settings(postgresql_url)))
    sent: list[str] = []
    for engine in app.app.registry.sql_engines.values():
        sa.event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    assert app.get("/v1/__heartbeat__").json == {
        "storage": True,
        "permission": True,
        "cache": True,
    }
    assert len(sent) == 3
    assert all(statement.startswith("SELECT") for statement in sent)
    assert not [statement for statement in sent if "autovacuum" in statement]
