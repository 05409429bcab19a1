"""Change history of buckets (``kinto.plugins.history``).

Every change of a bucket, group, collection or record is recorded in its
bucket's history, listed at ``/buckets/{bid}/history``.  Settings:

* ``kinto.history.exclude_user_ids``: changes made by these users are not kept;
* ``kinto.history.exclude_resources``: bucket, collection or object URIs whose
  changes are not kept;
* ``kinto.history.auto_trim_max_count`` (off by default): keep this many entries
  per bucket and resource type, once ``kinto.history.auto_trim_threshold`` (100)
  more have piled up; with ``kinto.history.auto_trim_user_ids``, only the
  entries of those users are trimmed (and counted per user).

The capability advertises the trimming and exclusion settings in effect, as
Kinto 26.5.0 does.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.settings import aslist

from kinto_clone.core.events import ResourceChanged
from kinto_clone.core.metrics import listener_with_timer
from kinto_clone.core.resource import register
from kinto_clone.plugins.history.listener import HistorySettings, on_resource_changed

RECORDED_RESOURCES = ("bucket", "group", "collection", "record")
URI_SEGMENTS = {
    "buckets": "bucket",
    "collections": "collection",
    "groups": "group",
    "records": "record",
}


def uri_to_dict(uri: str) -> dict[str, str]:
    """``/buckets/b/collections/c`` -> ``{"bucket": "b", "collection": "c"}``."""
    parts = uri.strip("/").split("/")
    if len(parts) % 2 or parts[0] != "buckets":
        raise ConfigurationError(f"kinto.history.exclude_resources: invalid URI {uri!r}")
    result = {}
    for kind, value in zip(parts[::2], parts[1::2], strict=True):
        if kind not in URI_SEGMENTS:
            raise ConfigurationError(f"kinto.history.exclude_resources: invalid URI {uri!r}")
        result[URI_SEGMENTS[kind]] = value
    return result


def _int(settings: dict[str, Any], name: str, default: int) -> int:
    raw = settings.get(f"history.{name}")
    try:
        return default if raw in (None, "") else int(raw)
    except ValueError as error:
        raise ConfigurationError(f"kinto.history.{name}: invalid integer {raw!r}") from error


def load_settings(settings: dict[str, Any]) -> HistorySettings:
    return HistorySettings(
        exclude_user_ids=frozenset(aslist(settings.get("history.exclude_user_ids") or "")),
        exclude_resources=frozenset(aslist(settings.get("history.exclude_resources") or "")),
        trim_max_count=_int(settings, "auto_trim_max_count", -1),
        trim_threshold=_int(settings, "auto_trim_threshold", 100),
        trim_user_ids=frozenset(aslist(settings.get("history.auto_trim_user_ids") or "")),
    )


def includeme(config: Configurator) -> None:
    from kinto_clone.plugins.history.views import History, snapshot

    settings = config.get_settings()
    history_settings = load_settings(settings)
    config.registry.history_settings = history_settings

    exposed: dict[str, Any] = {}
    if history_settings.trim_enabled:
        exposed["auto_trim_max_count"] = history_settings.trim_max_count
    if history_settings.trim_user_ids:
        exposed["auto_trim_user_ids"] = aslist(settings.get("history.auto_trim_user_ids"))
    if history_settings.exclude_resources:
        exposed["excluded_resources"] = [
            uri_to_dict(uri) for uri in aslist(settings.get("history.exclude_resources"))
        ]
    config.add_api_capability(
        "history",
        description="Track changes on data.",
        url="http://kinto.readthedocs.io/en/latest/api/1.x/history.html",
        **exposed,
    )
    register(config, History)
    config.add_cornice_service(snapshot)
    timed = listener_with_timer(config.registry, "plugins.history", on_resource_changed)
    config.add_subscriber(timed, ResourceChanged, for_resources=RECORDED_RESOURCES)
