"""Per-request values computed once: the user id and the principals.

Registered with ``add_request_method(reify=True)``, so the authentication stack
and the permission backend are asked at most once per request (batch
sub-requests share their parent's values).
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core.settings import AUTHENTICATED, EVERYONE


def _same_credentials_parent(request: Request) -> Request | None:
    """The parent request (batch, default bucket) when it authenticates alike."""
    parent = getattr(request, "parent", None)
    if parent is not None and parent.headers.get("Authorization") == request.headers.get(
        "Authorization"
    ):
        return parent
    return None


def prefixed_userid(request: Request) -> str | None:
    parent = _same_credentials_parent(request)
    if parent is not None:
        return parent.prefixed_userid
    return request.registry.authentication.identify(request)


def prefixed_principals(request: Request) -> list[str]:
    """The user id first, then its groups, ``system.Authenticated``, ``system.Everyone``."""
    parent = _same_credentials_parent(request)
    if parent is not None:
        return parent.prefixed_principals
    userid = request.prefixed_userid
    if userid is None:
        return [EVERYONE]
    groups = request.registry.permission.get_user_principals(userid)
    extra = sorted(groups - {userid, AUTHENTICATED, EVERYONE})
    return [userid, *extra, AUTHENTICATED, EVERYONE]


def setup_request_methods(config: Configurator) -> None:
    config.add_request_method(prefixed_userid, reify=True)
    config.add_request_method(prefixed_principals, reify=True)
