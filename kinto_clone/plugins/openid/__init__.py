"""``kinto.plugins.openid``: sign in with OpenID Connect providers.

Each provider is an authentication policy (:mod:`.policy`, settings in
:mod:`.provider`)::

    multiauth.policies = google
    multiauth.policy.google.use = kinto.plugins.openid.OpenIDConnectPolicy
    multiauth.policy.google.issuer = https://accounts.google.com
    multiauth.policy.google.client_id = 2822...apps.googleusercontent.com
    multiauth.policy.google.client_secret = ...
    multiauth.policy.google.userid_field = email

Including the plugin adds the login endpoints (:mod:`.views`), the ``openid``
capability listing the providers, and the user info of the token as
``user.profile`` in ``GET /v1/`` (``{}`` for users of other policies).
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.plugins.openid.policy import OpenIDConnectPolicy, user_profile
from kinto_clone.plugins.openid.provider import (
    openid_policy_names,
    provider_metadata,
    read_settings,
)

__all__ = ["OpenIDConnectPolicy", "includeme"]


def add_profile_to_hello(request: Request, user: dict[str, Any]) -> None:
    user["profile"] = user_profile(request)


def includeme(config: Configurator) -> None:
    from kinto_clone.plugins.openid import views

    config.add_cornice_service(views.login)
    config.add_cornice_service(views.token)

    settings = config.get_settings()
    names = openid_policy_names(settings)
    if not names:
        return  # Like Kinto: no capability without a configured provider.
    providers = []
    for name in names:
        provider = read_settings(settings, name)
        metadata = provider_metadata(config.registry, provider.issuer)
        providers.append(
            {
                "name": name,
                "issuer": metadata["issuer"],
                "auth_path": f"/openid/{name}/login",
                "client_id": provider.client_id,
                "audience": provider.audience,
                "header_type": provider.header_type,
                "userinfo_endpoint": metadata["userinfo_endpoint"],
            }
        )
    config.add_api_capability(
        "openid",
        description="OpenID connect support.",
        url="http://kinto.readthedocs.io/en/stable/api/1.x/authentication.html",
        providers=providers,
    )
    config.registry.hello_user_hooks.append(add_profile_to_hello)
