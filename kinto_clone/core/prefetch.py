"""Everything a request will read, asked of the backends at once.

A read goes through several backend calls before it has its answer: the user's
groups (principals), the access control entries of the object and its parents
(authorization), the parents themselves (existence), then the object or the
page.  Each is its own query, hence its own round trip to PostgreSQL.  A
resource view that knows up front what it will read describes it in a
:class:`ReadPlan` and hands it to :func:`prefetch`; backends able to answer the
whole plan in one statement (the SQL backends on one database) remember the
results for the rest of the transaction, where the usual calls find them.  The
logic of the request is unchanged: the plan only decides when the data is read.

Backends that cannot (memory, or storage and permissions on different
databases) have no prefetcher, and every call reads as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyramid.config import Configurator
from pyramid.request import Request

from kinto_clone.core.storage import Filter, ObjectKey, Sort

__all__ = ["PageQuery", "Prefetcher", "ReadPlan", "prefetch"]


@dataclass(frozen=True)
class PageQuery:
    """A list page, as :meth:`~kinto_clone.core.storage.StorageBase.list_all`
    would be asked for it, and the timestamp of its list."""

    resource_name: str
    parent_id: str
    filters: tuple[Filter, ...]
    sorting: tuple[Sort, ...]
    pagination_rules: tuple[tuple[Filter, ...], ...]
    limit: int
    include_deleted: bool


@dataclass
class ReadPlan:
    """What one request is about to read."""

    user_id: str | None = None
    """Whose group memberships (``None``: anonymous, no groups to read)."""
    ace_object_ids: list[str] = field(default_factory=list)
    """Objects whose access control entries authorization will check."""
    object_keys: list[ObjectKey] = field(default_factory=list)
    """Objects to read: the parents, the target."""
    page: PageQuery | None = None


Prefetcher = Callable[[ReadPlan], None]


def prefetch(request: Request, plan: ReadPlan) -> None:
    """Read ``plan`` in one go where the backends can; otherwise do nothing."""
    prefetcher: Prefetcher | None = request.registry.prefetcher
    if prefetcher is not None:
        prefetcher(plan)


def includeme(config: Configurator) -> None:
    """Ask the storage backend, once both backends exist, whether it can
    answer plans together with this permission backend."""
    registry = config.registry
    registry.prefetcher = registry.storage.prefetcher(registry.permission)
