"""Resolving dotted names from settings, Kinto's names included.

An ini written for Kinto names Kinto's modules (``kinto.core.storage.memory``,
``kinto.plugins.default_bucket``, ``kinto.views.RelaxedUUID``...).  They are mapped
here to this project's implementations, in one visible table, before falling back
to a plain import (which also serves users' own modules and the small :mod:`kinto`
compatibility package).
"""

from __future__ import annotations

from typing import Any

from pyramid.path import DottedNameResolver

from kinto_clone.core.settings import InvalidSetting

KINTO_ALIASES: dict[str, str] = {
    "kinto.core.storage.memory": "kinto_clone.core.storage.memory",
    "kinto.core.storage.postgresql": "kinto_clone.core.storage.postgresql",
    "kinto.core.permission.memory": "kinto_clone.core.permission.memory",
    "kinto.core.permission.postgresql": "kinto_clone.core.permission.postgresql",
    "kinto.core.cache.memory": "kinto_clone.core.cache.memory",
    "kinto.core.cache.postgresql": "kinto_clone.core.cache.postgresql",
    "kinto.core.cache.redis": "kinto_clone.core.cache.redis",
    "kinto.core.cache.memcached": "kinto_clone.core.cache.memcached",
    "kinto.core.authentication.BasicAuthAuthenticationPolicy": (
        "kinto_clone.core.authentication.BasicAuthPolicy"
    ),
    "kinto.core.storage.generators.UUID4": "kinto_clone.core.storage.generators.UUID4",
    "kinto.views.NameGenerator": "kinto_clone.core.storage.generators.NameGenerator",
    "kinto.views.RelaxedUUID": "kinto_clone.core.storage.generators.RelaxedUUID",
    "kinto.plugins.default_bucket": "kinto_clone.plugins.default_bucket",
    "kinto.plugins.accounts": "kinto_clone.plugins.accounts",
    "kinto.plugins.accounts.AccountsPolicy": "kinto_clone.plugins.accounts.AccountsPolicy",
    "kinto.plugins.accounts.authentication.AccountsAuthenticationPolicy": (
        "kinto_clone.plugins.accounts.AccountsPolicy"
    ),
    "kinto.plugins.history": "kinto_clone.plugins.history",
    "kinto.plugins.flush": "kinto_clone.plugins.flush",
    "kinto.plugins.admin": "kinto_clone.plugins.admin",
    # A separate package for Kinto, built in here (kinto-attachment 9's API).
    "kinto_attachment": "kinto_clone.plugins.attachment",
    "kinto.plugins.counters": "kinto_clone.plugins.counters",
    "kinto.plugins.openid": "kinto_clone.plugins.openid",
    "kinto.plugins.openid.OpenIDConnectPolicy": "kinto_clone.plugins.openid.OpenIDConnectPolicy",
    "kinto.plugins.prometheus": "kinto_clone.plugins.prometheus",
    "kinto.plugins.statsd": "kinto_clone.plugins.statsd",
    "kinto.core.statsd": "kinto_clone.plugins.statsd",
}

_resolver = DottedNameResolver()


def canonical_name(name: str) -> str:
    """The module path this project uses for ``name`` (Kinto's or ours)."""
    name = name.strip()
    return KINTO_ALIASES.get(name, name)


def resolve(name: str) -> Any:
    """Import the object named by ``name``, mapping Kinto's names first."""
    return _resolver.resolve(canonical_name(name))


def resolve_setting(setting: str, name: str) -> Any:
    """:func:`resolve` the value of ``setting``; a name that cannot be imported is
    an :class:`~kinto_clone.core.settings.InvalidSetting` naming both."""
    try:
        return resolve(name)
    except (ImportError, ValueError, AttributeError) as error:
        raise InvalidSetting(
            f"{setting} = {name}: cannot import it ({error}); "
            "correct the name or install the package providing it."
        ) from error
