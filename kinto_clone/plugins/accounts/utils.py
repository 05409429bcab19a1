"""Passwords and the verified-credentials cache of the accounts plugin.

Passwords are stored as bcrypt hashes.  bcrypt is deliberately slow (2**rounds
iterations; ``kinto.account_bcrypt_rounds``, default 12, a fraction of a second),
so a successful check is remembered in the cache backend for
``kinto.account_cache_ttl_seconds`` (default 30, refreshed on each use).  The
cache holds neither the password nor the hash: its key is an HMAC of the user
name (with ``kinto.userid_hmac_secret``) and its value an HMAC of the stored hash
and the password, keyed with that cache key.  A cached entry thus only matches
the exact password *and* the stored hash it was verified against: changing the
password anywhere (API, ``kinto create-user``) or deleting the account voids it,
besides the explicit invalidation on account changes.
"""

from __future__ import annotations

from typing import Any

import bcrypt
from pyramid.registry import Registry

from kinto_clone.core.authentication import hmac_digest

ACCOUNT_POLICY_NAME = "account"
ACCOUNT_CACHE_KEY = "accounts:{}:verified"
DEFAULT_CACHE_TTL_SECONDS = 30
DEFAULT_BCRYPT_ROUNDS = 12
# bcrypt only reads 72 bytes (bcrypt>=5 refuses longer passwords).
MAX_PASSWORD_BYTES = 72


def bcrypt_rounds(settings: dict[str, Any]) -> int:
    return int(settings.get("account_bcrypt_rounds") or DEFAULT_BCRYPT_ROUNDS)


def cache_ttl(settings: dict[str, Any]) -> int:
    value = settings.get("account_cache_ttl_seconds")
    return DEFAULT_CACHE_TTL_SECONDS if value in (None, "") else int(value)


def hash_password(password: str, rounds: int = DEFAULT_BCRYPT_ROUNDS) -> str:
    """The bcrypt hash to store (as text) for ``password``."""
    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=rounds))
    return hashed.decode("ascii")


def check_password(password: str, hashed: str) -> bool:
    """True when ``password`` matches the stored bcrypt ``hashed`` value."""
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("utf-8"))
    except ValueError:
        # Malformed stored hash, or a password bcrypt refuses (> 72 bytes).
        return False


def cache_key(settings: dict[str, Any], username: str) -> str:
    return hmac_digest(settings["userid_hmac_secret"], ACCOUNT_CACHE_KEY.format(username))


def verified_digest(key: str, hashed: str, password: str) -> str:
    """What the cache holds for a verified ``password`` against ``hashed``."""
    return hmac_digest(key, f"{hashed}\x00{password}")


def forget_verified(registry: Registry, username: str) -> None:
    """Drop the remembered verification of ``username`` (password changed, deleted)."""
    registry.cache.delete(cache_key(registry.settings, username))
