"""User accounts with passwords (``kinto.plugins.accounts``).

Include the plugin and name its policy in ``multiauth.policies``::

    kinto.includes = kinto.plugins.accounts
    multiauth.policies = account
    multiauth.policy.account.use = kinto.plugins.accounts.AccountsPolicy
    kinto.account_create_principals = system.Everyone
    kinto.account_write_principals = account:admin

Settings: ``account_create_principals`` (who may sign up),
``account_write_principals`` (administrators), ``account_read_principals`` (who
may list every account), ``account_cache_ttl_seconds`` (30) and
``account_bcrypt_rounds`` (12; lower it in tests, bcrypt is slow by design).
The start-up checks are Kinto's: the policy must be configured, not after
``basicauth`` (which accepts any credentials and would shadow it), and account
creators must also be administrators (or everyone) to avoid a setup where they
could only create their own account.
"""

from __future__ import annotations

import re

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.settings import aslist

from kinto_clone.core import dotted
from kinto_clone.core.resource import register
from kinto_clone.core.settings import EVERYONE
from kinto_clone.plugins.accounts import utils
from kinto_clone.plugins.accounts.authentication import AccountsPolicy

__all__ = ["ACCOUNT_CACHE_KEY", "ACCOUNT_POLICY_NAME", "AccountsPolicy", "includeme"]

ACCOUNT_CACHE_KEY = utils.ACCOUNT_CACHE_KEY
ACCOUNT_POLICY_NAME = utils.ACCOUNT_POLICY_NAME
DOCS_URL = "https://kinto.readthedocs.io/en/stable/api/1.x/accounts.html"
_POLICY_USE = re.compile(r"^multiauth\.policy\.(.+)\.use$")


def _policy_name(settings: dict) -> str | None:
    """The ``multiauth.policies`` name given to :class:`AccountsPolicy`, if any."""
    for key, value in settings.items():
        match = _POLICY_USE.match(key)
        if match and dotted.canonical_name(str(value)).endswith("AccountsPolicy"):
            return match.group(1)
    return None


def _int_setting(settings: dict, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = settings.get(name)
    try:
        value = default if raw in (None, "") else int(raw)
    except (TypeError, ValueError):
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise ConfigurationError(
            f"kinto.{name} must be an integer between {minimum} and {maximum}, not {raw!r}"
        )
    return value


def _check_configuration(settings: dict) -> None:
    policy = _policy_name(settings)
    if policy is None:
        raise ConfigurationError(
            "Account policy missing the 'multiauth.policy.*.use' setting. "
            f"See AccountsPolicy in docs {DOCS_URL}."
        )
    policies = settings["multiauth.policies"]
    in_both = "basicauth" in policies and policy in policies
    if in_both and policies.index("basicauth") < policies.index(policy):
        raise ConfigurationError(
            f"'basicauth' should not be mentioned before '{policy}' in "
            "'multiauth.policies' setting."
        )
    creators = set(aslist(settings.get("account_create_principals") or ""))
    admins = set(aslist(settings.get("account_write_principals") or ""))
    limited = creators - admins - {EVERYONE}
    if limited:
        raise ConfigurationError(
            "Configuration has some principals in account_create_principals but not in "
            "account_write_principals. These principals will only be able to create their "
            "own accounts. This may not be what you want.\nIf you want these users to be "
            "able to create accounts for other users, add them to "
            f"account_write_principals.\nAffected users: {sorted(limited)}"
        )


def includeme(config: Configurator) -> None:
    from kinto_clone.plugins.accounts.views import Account

    settings = config.get_settings()
    _check_configuration(settings)
    config.add_settings(
        {
            "account_cache_ttl_seconds": _int_setting(
                settings, "account_cache_ttl_seconds", utils.DEFAULT_CACHE_TTL_SECONDS, 0, 2**31
            ),
            # bcrypt accepts 4 to 31 rounds.
            "account_bcrypt_rounds": _int_setting(
                settings, "account_bcrypt_rounds", utils.DEFAULT_BCRYPT_ROUNDS, 4, 31
            ),
        }
    )
    config.add_api_capability(
        "accounts",
        description="Manage user accounts.",
        url="https://kinto.readthedocs.io/en/latest/api/1.x/accounts.html",
        validation_enabled=False,
    )
    register(config, Account)
