"""Choosing the storage, permission and cache backends from settings.

``kinto.<kind>_backend`` names a module (Kinto's names are mapped by
:mod:`kinto_clone.core.dotted`) exposing ``load_from_config(config)``; the
result must implement the kind's base class and is stored on the registry
(``registry.storage``, ``registry.permission``, ``registry.cache``).
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.request import Request

from kinto_clone.core import dotted
from kinto_clone.core.cache import CacheBase
from kinto_clone.core.permission import PermissionBase
from kinto_clone.core.storage import StorageBase

BACKEND_KINDS = {"storage": StorageBase, "permission": PermissionBase, "cache": CacheBase}


def _healthcheck(kind: str):
    def check(request: Request) -> bool:
        return getattr(request.registry, kind).healthcheck()

    return check


def setup_backends(config: Configurator) -> None:
    settings = config.get_settings()
    for kind, base in BACKEND_KINDS.items():
        name = settings[f"{kind}_backend"]
        try:
            module = dotted.resolve(name)
        except ImportError as error:
            raise ConfigurationError(
                f"kinto.{kind}_backend = {name}: cannot import it ({error})"
            ) from error
        backend = module.load_from_config(config)
        if not isinstance(backend, base):
            raise ConfigurationError(
                f"kinto.{kind}_backend = {name} does not provide a {base.__name__}"
            )
        setattr(config.registry, kind, backend)
        config.registry.heartbeats[kind] = _healthcheck(kind)
