"""Settings: Kinto's names and defaults, read once at start-up.

Inis written for Kinto use ``kinto.<name>`` keys; environment variables
``KINTO_<NAME>`` override them (applied by :mod:`kinto_clone.configuration` before
the app is built).  :func:`load_settings` strips the prefix, fills defaults and
converts types, so the rest of the code reads ``settings["paginate_by"]`` as an
``int | None`` and never parses strings per request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.settings import aslist

EVERYONE = "system.Everyone"
AUTHENTICATED = "system.Authenticated"

DEFAULT_SETTINGS: dict[str, Any] = {
    "backoff": None,
    "backoff_percentage": None,
    "batch_max_requests": 25,
    "bucket_create_principals": AUTHENTICATED,
    "bucket_id_generator": "kinto.views.NameGenerator",
    "cache_backend": "kinto.core.cache.memory",
    "cache_hosts": "",
    "cache_max_size_bytes": 524288,
    "cache_prefix": "",
    "cache_url": "",
    "collection_id_generator": "kinto.views.NameGenerator",
    "cors_max_age_seconds": 3600,
    "cors_origins": "*",
    "default_bucket_hmac_secret": "",
    "eos": None,
    "eos_message": None,
    "eos_url": None,
    "error_info_link": "https://github.com/Kinto/kinto/issues/",
    "event_listeners": "",
    "experimental_collection_schema_validation": False,
    "experimental_permissions_endpoint": False,
    "explicit_permissions": True,
    "group_id_generator": "kinto.views.NameGenerator",
    "heartbeat_timeout_seconds": 10,
    "http_host": None,
    "http_scheme": None,
    "id_generator": "kinto.core.storage.generators.UUID4",
    "includes": "",
    # Live changes (kinto_clone.core.live): waiting requests per process (then
    # 503), longest ``Prefer: wait``, idle-stream comment interval, and the
    # SQLite check of other processes' commits.
    "live_heartbeat_seconds": 15,
    "live_max_subscribers": 1000,
    "live_max_wait_seconds": 60,
    "live_poll_interval_ms": 10,
    "metrics_matchdict_fields": "bucket_id collection_id group_id record_id",
    "multiauth.policies": "",
    "multiauth.policy.basicauth.use": "kinto.core.authentication.BasicAuthAuthenticationPolicy",
    "paginate_by": None,
    "pagination_token_validity_seconds": 600,
    "permission_backend": "kinto.core.permission.memory",
    "permission_url": "",
    "permissions_read_principals": EVERYONE,
    "project_docs": "https://kinto.readthedocs.io/",
    "project_name": "kinto",
    "project_version": "",
    "readonly": False,
    "record_id_generator": "kinto.views.RelaxedUUID",
    "retry_after_seconds": 3,
    "root_cache_expires_seconds": 86400,
    "sentry_breadcrumbs_min_level": 10,
    "sentry_dsn": None,
    "sentry_env": None,
    "sentry_events_min_level": 30,
    "skip_schema_check": False,
    "storage_backend": "kinto.core.storage.memory",
    "storage_max_fetch_size": 10000,
    "storage_url": "",
    "statsd_backend": "kinto.core.statsd",
    "statsd_url": None,
    "trailing_slash_redirect_enabled": True,
    "trailing_slash_redirect_ttl_seconds": 3600,
    "userid_hmac_secret": "",
    "version_json_path": "version.json",
    "version_prefix_redirect_enabled": True,
    "version_prefix_redirect_ttl_seconds": -1,
}

_BOOLEANS = {name for name, value in DEFAULT_SETTINGS.items() if isinstance(value, bool)}
_INTEGERS = {
    "batch_max_requests",
    "cache_max_size_bytes",
    "heartbeat_timeout_seconds",
    "pagination_token_validity_seconds",
    "retry_after_seconds",
    "root_cache_expires_seconds",
    "storage_max_fetch_size",
    "trailing_slash_redirect_ttl_seconds",
    "version_prefix_redirect_ttl_seconds",
}
# Counts and durations that must be at least 1.
_POSITIVE_INTEGERS = {
    "live_heartbeat_seconds",
    "live_max_subscribers",
    "live_max_wait_seconds",
    "live_poll_interval_ms",
}
_DATES = {"eos"}
# Empty means "none": no Backoff header, no page size, no preflight Max-Age.
_OPTIONAL_INTEGERS = {"backoff", "backoff_percentage", "cors_max_age_seconds", "paginate_by"}

PREFIX = "kinto."

_TRUE = frozenset({"t", "true", "y", "yes", "on", "1"})
_FALSE = frozenset({"f", "false", "n", "no", "off", "0", ""})


class InvalidSetting(ConfigurationError):
    """A setting's value cannot be used; the message names it and says what to write.

    ``kinto start`` and the other commands print it alone, without a traceback.
    """


def _invalid(name: str, value: Any, expected: str) -> InvalidSetting:
    setting = name if name.startswith(("multiauth.", PREFIX)) else PREFIX + name
    return InvalidSetting(f"{setting} = {value!r} is not valid: {expected}.")


def _boolean(name: str, value: Any) -> bool:
    # Stricter than pyramid's ``asbool``, which reads any typo as false.
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise _invalid(name, value, "write true or false")


def _integer(name: str, value: Any, optional: bool) -> int | None:
    if optional and value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        unit = "a number of seconds" if name.endswith("_seconds") else "a whole number"
        hint = ", or nothing to disable it" if optional else ""
        raise _invalid(name, value, f"write {unit}{hint}") from None


def _positive_integer(name: str, value: Any) -> int:
    if value in (None, ""):
        return DEFAULT_SETTINGS[name]
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise _invalid(name, value, "write a positive number")
    return number


def _date(name: str, value: Any) -> Any:
    """``kinto.eos``: kept as written (``GET /v1/`` shows it), but it must be a date."""
    if value in (None, ""):
        return None
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        raise _invalid(name, value, "write a date as YYYY-MM-DD") from None
    return value


def _coerce(name: str, value: Any) -> Any:
    if name in _BOOLEANS:
        return _boolean(name, value)
    if name in _POSITIVE_INTEGERS:
        return _positive_integer(name, value)
    if name in _INTEGERS or name in _OPTIONAL_INTEGERS:
        return _integer(name, value, optional=name in _OPTIONAL_INTEGERS)
    if name in _DATES:
        return _date(name, value)
    if name.endswith("_seconds"):
        # Durations of plugins and of each resource (``record_cache_expires_seconds``,
        # ``<bucket>_<collection>_record_cache_expires_seconds``): checked once here
        # rather than failing on every request that reads them.
        return _integer(name, value, optional=True)
    return value


def load_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """Return settings keyed without the ``kinto.`` prefix, defaults filled in.

    Both spellings are kept (``kinto.paginate_by`` and ``paginate_by``) because
    plugins written for Kinto read either.
    """
    settings = dict(DEFAULT_SETTINGS)
    for key, value in raw.items():
        name = key[len(PREFIX) :] if key.startswith(PREFIX) else key
        settings[name] = value
    for name in list(settings):
        settings[name] = _coerce(name, settings[name])
    settings["includes"] = aslist(settings["includes"])
    settings["multiauth.policies"] = aslist(settings["multiauth.policies"])
    settings["cors_origins"] = aslist(settings["cors_origins"])
    for name in list(settings):
        if not name.startswith(PREFIX):
            settings[PREFIX + name] = settings[name]
    return settings


def principals_setting(settings: dict[str, Any], name: str) -> set[str]:
    """A ``*_principals`` setting as a set (space or newline separated)."""
    return set(aslist(settings.get(name) or ""))
