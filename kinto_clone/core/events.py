"""Resource events, Kinto's extension point for plugins and listeners.

Writes done by the resource layer are recorded with :func:`notify_resource_event`
and merged per ``(action, resource_name, parent)``.  Once the view has
succeeded, :class:`ResourceChanged` is notified *inside* the transaction (a
subscriber that raises turns the request into an error and nothing is kept);
:class:`AfterResourceChanged` is notified once the transaction has committed
(errors are only logged).  Batch sub-requests share their parent's transaction,
so a batch produces one merged round of events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.tweens import EXCVIEW

from kinto_clone.core import transaction

logger = logging.getLogger(__name__)


class ACTIONS(Enum):
    CREATE = "create"
    DELETE = "delete"
    READ = "read"
    UPDATE = "update"

    @staticmethod
    def from_string_list(elements: Iterable[str]) -> tuple[ACTIONS, ...]:
        return tuple(ACTIONS(element) for element in elements)


class ResourceEvent:
    def __init__(self, payload: dict[str, Any], request: Request) -> None:
        self.payload = payload
        self.request = request

    def __repr__(self) -> str:
        name = self.__class__.__name__
        return f"<{name} action={self.payload['action']} uri={self.payload['uri']}>"


class _ChangeEvent(ResourceEvent):
    parent_id: str = ""
    """Storage parent of the changed objects (``/buckets/b`` for its collections):
    with ``resource_name``, the list they belong to (live changes wake its readers)."""

    def __init__(
        self, payload: dict[str, Any], impacted_objects: list[dict[str, Any]], request: Request
    ) -> None:
        super().__init__(payload, request)
        self.impacted_objects = impacted_objects


class ResourceChanged(_ChangeEvent):
    """Objects were created, updated or deleted; not yet committed."""


class AfterResourceChanged(_ChangeEvent):
    """Same as :class:`ResourceChanged`, once committed (feeds, notifications).

    A sibling of :class:`ResourceChanged`, not a subclass: Pyramid dispatches
    events along the class hierarchy, so a subclass would reach every
    ``ResourceChanged`` subscriber a second time, outside the transaction
    (Kinto's two classes are unrelated too).
    """


class ServerFlushed:
    def __init__(self, request: Request) -> None:
        self.request = request


class _ResourcesPredicate:
    """Subscriber predicate ``for_resources=("record", ...)``."""

    def __init__(self, resources: Iterable[str], config: Configurator) -> None:
        self.resources = set(resources)

    def text(self) -> str:
        return f"for_resources = {sorted(self.resources)}"

    phash = text

    def __call__(self, event: Any) -> bool:
        payload = getattr(event, "payload", None)
        return payload is not None and payload.get("resource_name") in self.resources


class _ActionsPredicate:
    """Subscriber predicate ``for_actions=(ACTIONS.CREATE, ...)``."""

    def __init__(self, actions: Iterable[ACTIONS | str], config: Configurator) -> None:
        self.actions = {ACTIONS(action).value for action in actions}

    def text(self) -> str:
        return f"for_actions = {sorted(self.actions)}"

    phash = text

    def __call__(self, event: Any) -> bool:
        payload = getattr(event, "payload", None)
        return payload is not None and payload.get("action") in self.actions


def notify_resource_event(
    request: Request,
    parent_id: str,
    timestamp: int,
    data: dict[str, Any] | list[dict[str, Any]],
    action: ACTIONS,
    old: dict[str, Any] | list[dict[str, Any]] | None = None,
    resource_name: str | None = None,
    resource_data: dict[str, str] | None = None,
) -> None:
    """Record a change to be announced when the request succeeds.

    ``resource_data`` carries the URI and the ids of the parents
    (``bucket_id``, ``collection_id``...) as matched in the URL.
    """
    tx = transaction.current()
    if tx is None:
        return
    new_objects = data if isinstance(data, list) else [data]
    old_objects = old if isinstance(old, list) else [old] * len(new_objects)
    impacted = []
    for new, previous in zip(new_objects, old_objects, strict=True):
        entry: dict[str, Any] = {"new": new}
        if previous is not None:
            entry["old"] = previous
        impacted.append(entry)

    pending: dict[tuple[str, str, str], ResourceChanged] = tx.data.setdefault(
        "resource_events", {}
    )
    key = (action.value, resource_name or "", parent_id)
    existing = pending.get(key)
    if existing is not None:
        existing.impacted_objects.extend(impacted)
        existing.payload["timestamp"] = max(existing.payload["timestamp"], timestamp)
        return
    payload = {
        "timestamp": timestamp,
        "action": action.value,
        "uri": (resource_data or {}).get("uri", ""),
        "user_id": request.prefixed_userid,
        "resource_name": resource_name,
        **{k: v for k, v in (resource_data or {}).items() if k != "uri"},
    }
    event = ResourceChanged(payload, impacted, request)
    event.parent_id = parent_id
    pending[key] = event


def _notify_pending(request: Request) -> None:
    """Announce pending changes, including those caused by subscribers (cascades)."""
    tx = transaction.current()
    if tx is None:
        return
    announced: list[ResourceChanged] = []
    while tx.data.get("resource_events"):
        pending = tx.data.pop("resource_events")
        for event in pending.values():
            request.registry.notify(event)
            announced.append(event)
    if not announced:
        return

    def after_commit() -> None:
        for event in announced:
            after = AfterResourceChanged(event.payload, event.impacted_objects, event.request)
            after.parent_id = event.parent_id
            try:
                request.registry.notify(after)
            except Exception:
                logger.exception("AfterResourceChanged subscriber failed")

    tx.add_after_commit_hook(after_commit)


def events_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    def events_tween(request: Request) -> Response:
        response = handler(request)
        if response.status_code < 400:
            _notify_pending(request)
        else:
            tx = transaction.current()
            if tx is not None:
                tx.data.pop("resource_events", None)
        return response

    return events_tween


def includeme(config: Configurator) -> None:
    config.add_subscriber_predicate("for_resources", _ResourcesPredicate)
    config.add_subscriber_predicate("for_actions", _ActionsPredicate)
    config.add_tween("kinto_clone.core.events.events_tween_factory", under=EXCVIEW)
