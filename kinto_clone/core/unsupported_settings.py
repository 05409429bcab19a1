"""Kinto settings this server does not honour: refused at start-up, never ignored.

An ini written for Kinto 26.5.0 may set anything Kinto reads.  Every such setting
is either honoured here or listed in :data:`UNSUPPORTED`, the one place to edit when
a feature lands (remove its line) or a Kinto setting is found unread (add one).
A listed setting is still accepted with a value that changes nothing (``false`` for
a feature switch, Kinto's default for a dotted name), so Kinto's own ini files,
which spell some defaults out, start unchanged.

The list was built from Kinto 26.5.0's defaults (``kinto.core.DEFAULT_SETTINGS``,
``kinto.DEFAULT_SETTINGS``), the settings its plugins and backends read, and its
documented ini template, each checked against the code reading settings here.
Settings of features other engineers are adding (OpenID ``multiauth.policy.*``,
Redis/Memcached caches, counters, ``attachment.*``) are deliberately absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyramid.exceptions import ConfigurationError

PREFIX = "kinto."


class UnsupportedSetting(ConfigurationError):
    """A Kinto setting this server does not honour (printed alone by ``kinto start``)."""


@dataclass(frozen=True)
class Unsupported:
    reason: str
    harmless: frozenset[str] = frozenset()
    """Values (lower-cased) meaning "off" or Kinto's default: accepted."""


FALSE = frozenset({"", "false", "0", "no", "off", "none"})
TRUE = frozenset({"true", "1", "yes", "on"})
NONE = frozenset({"", "none"})
NO_BACKLOG_LIMIT = frozenset({"", "-1"})


def _per_sql_backend(suffix: str, reason: str, harmless: frozenset[str] = NONE) -> dict:
    return {
        f"{kind}_{suffix}": Unsupported(reason, harmless)
        for kind in ("storage", "permission", "cache")
    }


UNSUPPORTED: dict[str, Unsupported] = {
    "initialization_sequence": Unsupported(
        "the start-up steps are fixed; add features as plugins in kinto.includes"
    ),
    "json_renderer": Unsupported(
        "responses always use the built-in JSON renderer",
        frozenset({"", "ultrajson", "json"}),
    ),
    "logging_renderer": Unsupported("configure logging formatters in the ini's logging sections"),
    "newrelic_config": Unsupported("New Relic is not supported", NONE),
    "newrelic_env": Unsupported("New Relic is not supported", NONE),
    "profiler_enabled": Unsupported("the Werkzeug profiler is not supported", FALSE),
    "profiler_dir": Unsupported("the Werkzeug profiler is not supported", NONE),
    "settings_prefix": Unsupported("settings are always read as kinto.*", frozenset({"kinto"})),
    "http_api_version": Unsupported(
        "the HTTP API version is the one this server implements", frozenset({"", "1.23"})
    ),
    "transaction_per_request": Unsupported("every request is one transaction", TRUE),
    "tm.annotate_user": Unsupported("transactions are not annotated", FALSE),
    "multiauth.groupfinder": Unsupported(
        "groups come from the permission backend",
        frozenset({"kinto.core.authorization.groupfinder"}),
    ),
    "multiauth.authorization_policy": Unsupported(
        "authorization follows Kinto's permission inheritance",
        frozenset(
            {
                "kinto.authorization.authorizationpolicy",
                "kinto.core.authorization.authorizationpolicy",
            }
        ),
    ),
    "admin_assets_path": Unsupported("the admin plugin serves its own build", NONE),
    **_per_sql_backend(
        "max_backlog",
        "the connection pool has no waiting-queue limit",
        NO_BACKLOG_LIMIT,
    ),
    **_per_sql_backend("poolclass", "the connection pool class is fixed"),
}


def _values(raw: Mapping[str, Any], name: str) -> list[tuple[str, Any]]:
    return [(key, raw[key]) for key in (PREFIX + name, name) if key in raw]


def check(raw_settings: Mapping[str, Any]) -> None:
    """Raise when ``raw_settings`` (as written, ``kinto.`` prefix or not) sets an
    unsupported setting to a value that would change something."""
    for name, unsupported in UNSUPPORTED.items():
        for key, value in _values(raw_settings, name):
            if str(value if value is not None else "").strip().lower() in unsupported.harmless:
                continue
            raise UnsupportedSetting(
                f"{key} = {value}: this setting of Kinto is not supported here "
                f"({unsupported.reason})"
            )
