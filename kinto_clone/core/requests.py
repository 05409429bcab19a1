"""Per-request values computed once: the user id and the principals.

Registered with ``add_request_method(reify=True)``, so the authentication stack
and the permission backend are asked at most once per request (batch
sub-requests share their parent's values).
"""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.interfaces import IRequestExtensions, IRequestFactory
from pyramid.registry import Registry
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


def freeze_request_extensions(registry: Registry) -> None:
    """Put the properties of ``add_request_method`` on one request class, once.

    Pyramid otherwise derives a new request class for every request (and every
    batch sub-request) to attach them: the single largest cost of a cheap read.
    Call it after the last ``add_request_method``, before the router is built;
    sub-requests are then made with ``type(request).blank(...)``.
    """
    extensions = registry.queryUtility(IRequestExtensions)
    if extensions is None or not extensions.descriptors:
        return
    base = registry.queryUtility(IRequestFactory, default=Request)
    attributes = {"__module__": base.__module__, **extensions.descriptors}
    registry.registerUtility(type(base.__name__, (base,), attributes), IRequestFactory)
    extensions.descriptors = {}
