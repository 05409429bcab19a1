"""Event listeners named in settings: Kinto's ``kinto.event_listeners``.

``kinto.event_listeners = redis`` plus ``kinto.event_listeners.redis.use =
some.module`` loads ``some.module.load_from_config(config, prefix)`` (``prefix`` is
``"event_listeners.redis."``, for the listener to read its own settings) and calls
the returned object with every matching event.  ``.actions`` (default ``create
update delete``) and ``.resources`` (default: all) narrow what it receives.  As in
Kinto, the listener name itself may be the dotted module (``kinto.event_listeners
= my.listener``).

Listeners receive :class:`~kinto_clone.core.events.AfterResourceChanged`, once the
change is committed: Kinto 26.5.0 hands them the in-transaction
``ResourceChanged``, so a listener pushing to a queue could announce a change that
is then rolled back, and a listener failure would fail the client's request.
Here a failure is only logged, and never keeps the other listeners from running.
There are no read events, so ``read`` in ``.actions`` is accepted and never fires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.settings import aslist

from kinto_clone.core import dotted
from kinto_clone.core.events import ACTIONS, AfterResourceChanged
from kinto_clone.core.metrics import listener_with_timer

logger = logging.getLogger(__name__)

Listener = Callable[[Any], None]
WRITE_ACTIONS = (ACTIONS.CREATE, ACTIONS.UPDATE, ACTIONS.DELETE)


class ListenerBase:
    """What ``load_from_config`` returns: a callable receiving events."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, event: Any) -> None:
        raise NotImplementedError


def _load_module(settings: dict[str, Any], name: str) -> tuple[Any, str]:
    """The listener's module and its settings prefix."""
    prefix = f"event_listeners.{name}."
    try:
        module = dotted.resolve(name)
        if hasattr(module, "load_from_config"):
            return module, f"event_listeners.{name.split('.')[-1]}."
    except (ImportError, ValueError):
        pass
    use = settings.get(prefix + "use")
    if not use:
        raise ConfigurationError(f"kinto.{prefix}use is not set for listener {name!r}")
    try:
        module = dotted.resolve(use)
    except ImportError as error:
        raise ConfigurationError(
            f"kinto.{prefix}use = {use}: cannot import it ({error})"
        ) from error
    return module, prefix


def _actions(settings: dict[str, Any], prefix: str) -> tuple[ACTIONS, ...]:
    names = aslist(settings.get(prefix + "actions") or "")
    if not names:
        return WRITE_ACTIONS
    try:
        return ACTIONS.from_string_list(names)
    except ValueError as error:
        raise ConfigurationError(f"kinto.{prefix}actions: {error}") from error


def _guarded(name: str, listener: Listener) -> Callable[[AfterResourceChanged], None]:
    """Run ``listener``, logging its failures: the change is committed already."""

    def notify(event: AfterResourceChanged) -> None:
        try:
            listener(event)
        except Exception:
            logger.exception("Event listener %r failed on %r", name, event)

    return notify


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    for name in aslist(settings.get("event_listeners") or ""):
        module, prefix = _load_module(settings, name)
        listener = module.load_from_config(config, prefix)
        predicates: dict[str, Any] = {"for_actions": _actions(settings, prefix)}
        resources = aslist(settings.get(prefix + "resources") or "")
        if resources:
            predicates["for_resources"] = resources
        timed = listener_with_timer(config.registry, f"listeners.{name}", listener)
        config.add_subscriber(_guarded(name, timed), AfterResourceChanged, **predicates)
        logger.info("Event listener %r set up", name)
