"""A plugin whose only view fails, to check 500s leak no internals."""

from pyramid.config import Configurator
from pyramid.request import Request


def failing(request: Request) -> None:
    raise RuntimeError("deliberate failure with a secret inside")


def includeme(config: Configurator) -> None:
    config.add_route("failing", "/__failing__")
    config.add_view(failing, route_name="failing")
