"""Choosing the storage, permission and cache backends from settings.

``kinto.<kind>_backend`` names a module (Kinto's names are mapped by
:mod:`kinto_clone.core.dotted`) exposing ``load_from_config(config)``; the
result must implement the kind's base class and is stored on the registry
(``registry.storage``, ``registry.permission``, ``registry.cache``).
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core import dotted
from kinto_clone.core.cache import CacheBase
from kinto_clone.core.permission import PermissionBase
from kinto_clone.core.settings import InvalidSetting
from kinto_clone.core.storage import StorageBase

BACKEND_KINDS = {"storage": StorageBase, "permission": PermissionBase, "cache": CacheBase}


def _healthcheck(kind: str):
    def check(request: Request) -> bool:
        return getattr(request.registry, kind).healthcheck()

    return check


def setup_backends(config: Configurator) -> None:
    settings = config.get_settings()
    for kind, base in BACKEND_KINDS.items():
        setting = f"kinto.{kind}_backend"
        name = settings[f"{kind}_backend"]
        module = dotted.resolve_setting(setting, name)
        load = getattr(module, "load_from_config", None)
        backend = load(config) if callable(load) else None
        if not isinstance(backend, base):
            raise InvalidSetting(
                f"{setting} = {name} is not a {kind} backend (it provides no "
                f"{base.__name__}); use for instance kinto.core.{kind}.memory."
            )
        setattr(config.registry, kind, backend)
        config.registry.heartbeats[kind] = _healthcheck(kind)
