"""The storage backend contract.

A storage backend keeps JSON objects grouped by ``(resource_name, parent_id)``
(for instance ``("record", "/buckets/b/collections/c")``), gives each object a
``last_modified`` timestamp unique and strictly increasing within its group, and
keeps tombstones of deleted objects so that clients polling ``_since`` see
deletions.  Implementations live one per module (``memory``, ``postgresql``,
``sqlite``) and expose ``load_from_config(config) -> StorageBase``.

Every method joins the current :mod:`~kinto_clone.core.transaction`, or runs in
its own one when called outside a request.  The shared contract test suite is
:mod:`kinto_clone.core.storage.testing`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

from kinto_clone.core.storage import generators

__all__ = [
    "COMPARISON",
    "MISSING",
    "BackendError",
    "Filter",
    "IntegrityError",
    "ObjectNotFoundError",
    "ReadonlyError",
    "ResourceCount",
    "Sort",
    "StorageBase",
    "UnicityError",
    "generators",
]

Object = dict[str, Any]
ObjectKey = tuple[str, str, str]
"""``(resource_name, parent_id, object_id)``."""

DEFAULT_ID_FIELD = "id"
DEFAULT_MODIFIED_FIELD = "last_modified"
DEFAULT_DELETED_FIELD = "deleted"


class COMPARISON(Enum):
    """Filter operators, named after the querystring prefixes that produce them."""

    LT = "<"
    MIN = ">="
    MAX = "<="
    NOT = "!="
    EQ = "=="
    GT = ">"
    IN = "in"
    EXCLUDE = "not in"
    LIKE = "like"
    HAS = "has"
    CONTAINS = "contains"
    CONTAINS_ANY = "contains_any"


class _Missing:
    """Stands for an absent field in pagination tokens and filters."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


class Filter(NamedTuple):
    """``field`` (dotted path into the object) compared to ``value`` with ``operator``.

    Objects lacking the field compare *greater* than any value (PostgreSQL's
    ``NULLS LAST``), so ``gt_``/``min_`` filters match them and ``lt_``/``max_``
    ones do not.
    """

    field: str
    value: Any
    operator: COMPARISON


class Sort(NamedTuple):
    """Order on ``field``: ``direction`` is 1 (ascending) or -1 (descending)."""

    field: str
    direction: int


class ResourceCount(NamedTuple):
    """How many live objects and tombstones one resource has, all parents together."""

    objects: int
    tombstones: int


class BackendError(Exception):
    """The backend is unreachable or failed: the request gets a 503 errno 201."""

    def __init__(self, original: BaseException | None = None, message: str | None = None):
        self.original = original
        if message is None and original is not None:
            message = f"{original.__class__.__name__}: {original}"
        super().__init__(message)


class ReadonlyError(BackendError):
    """A write was attempted on a backend configured read-only."""


class ObjectNotFoundError(Exception):
    """No live object with that id in that group."""


class IntegrityError(Exception):
    """A storage constraint was violated: answered as 409 errno 122."""


class UnicityError(IntegrityError):
    """An object with that id already exists (and is not a tombstone)."""

    def __init__(self, field: str, existing: Object | None = None):
        self.field = field
        self.existing = existing
        super().__init__(f"Object with that {field} already exists")


class StorageBase:
    """Interface of storage backends; see the module docstring for the model.

    ``filters`` is a list of :class:`Filter` AND-ed together.  ``pagination_rules``
    is a list of filter lists OR-ed together (each list AND-ed): the keyset
    condition "after the last object of the previous page".  ``sorting`` is a list
    of :class:`Sort`.  ``parent_id`` may contain ``*`` wildcards in ``list_all``,
    ``count_all``, ``delete_all``, ``purge_deleted`` and ``purge_all``.
    """

    id_generator: generators.Generator = generators.UUID4()

    def initialize_schema(self, dry_run: bool = False) -> list[str]:
        """Create or upgrade the schema; return the steps done (or that would be)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Remove every object, tombstone and timestamp (tests, ``/__flush__``)."""
        raise NotImplementedError

    def healthcheck(self) -> bool:
        """True when the backend answers (used by ``/__heartbeat__``)."""
        raise NotImplementedError

    def prefetcher(self, permission: Any) -> Callable[[Any], None] | None:
        """What reads a :class:`~kinto_clone.core.prefetch.ReadPlan` for this
        backend and ``permission`` in one go, or ``None`` when each call reads
        on its own (see :mod:`kinto_clone.core.prefetch`)."""
        return None

    def lock_for_write(self, resource_name: str, parent_id: str) -> None:
        """Make the current transaction the only writer of the group until it ends.

        Called before reading what a write depends on (``If-Match``), so that
        concurrent conditional writes are serialized: exactly one of those
        expecting the same version succeeds.  A backend that
        :meth:`checks_versions` checks that at write time instead.
        """
        raise NotImplementedError

    def checks_versions(self, resource_name: str, parent_id: str, object_id: str) -> bool:
        """Whether a write replacing the object may read it without the
        group's lock and have its version checked when it writes
        (:meth:`expect_version`): the lock is then held only from the write to
        the commit.  When false, the caller takes :meth:`lock_for_write` before
        reading."""
        return False

    def expect_version(
        self, resource_name: str, parent_id: str, object_id: str, last_modified: int | None
    ) -> None:
        """Make this transaction's next write of the object apply only if the
        object is still at ``last_modified`` (``None``: absent or deleted); if
        it is not, the write raises
        :class:`~kinto_clone.core.transaction.WriteConflict`.  Only where
        :meth:`checks_versions`."""
        raise NotImplementedError

    def resource_timestamp(self, resource_name: str, parent_id: str) -> int:
        """Current timestamp of the group, tombstones included.

        An empty group gets one on first read and keeps it afterwards.  With a
        ``*`` in ``parent_id`` it is the newest timestamp of the groups listed
        with that pattern (or, with none, of the group literally named so):
        Kinto only reads the literal group, whose timestamp then stays behind
        the objects written since, which lists cut at their ETag (accounts
        of an administrator) would miss.
        """
        raise NotImplementedError

    def all_resources_timestamps(self, resource_name: str) -> dict[str, int]:
        """``{parent_id: timestamp}`` for every group of that resource."""
        raise NotImplementedError

    def create(
        self,
        resource_name: str,
        parent_id: str,
        obj: Object,
        id_generator: generators.Generator | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> Object:
        """Store a new object (an id is generated when absent) and return it.

        Raises :class:`UnicityError` if a live object has that id; a tombstone
        with that id is replaced.
        """
        raise NotImplementedError

    def get(
        self,
        resource_name: str,
        parent_id: str,
        object_id: str,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> Object:
        """Return the live object or raise :class:`ObjectNotFoundError`."""
        raise NotImplementedError

    def get_many(
        self,
        resource_name: str,
        parent_id: str,
        object_ids: list[str],
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> dict[str, Object]:
        """``{id: object}`` for the live objects among ``object_ids``."""
        raise NotImplementedError

    def get_by_keys(self, keys: list[ObjectKey]) -> dict[ObjectKey, Object]:
        """The live objects among ``(resource_name, parent_id, object_id)`` keys
        of any groups, missing ones left out: the parents of a record (its
        bucket and collection) are checked together, in one query on SQL
        backends."""
        found = {}
        for key in keys:
            try:
                found[key] = self.get(*key)
            except ObjectNotFoundError:
                continue
        return found

    def update(
        self,
        resource_name: str,
        parent_id: str,
        object_id: str,
        obj: Object,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> Object:
        """Create or replace the object; a new timestamp is assigned.

        A ``last_modified`` supplied in ``obj`` is kept unless it equals the
        group's current timestamp (then a fresh one is assigned); only a greater
        one advances the group's timestamp.  Same rule in :meth:`create` and for
        :meth:`delete`'s ``last_modified`` (Kinto 26.5.0, both backends).
        """
        raise NotImplementedError

    def delete(
        self,
        resource_name: str,
        parent_id: str,
        object_id: str,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        with_deleted: bool = True,
        last_modified: int | None = None,
    ) -> Object:
        """Delete the live object and return its tombstone.

        ``with_deleted=False`` leaves no tombstone.  ``last_modified`` sets the
        tombstone's timestamp, with the rule of :meth:`update`.
        """
        raise NotImplementedError

    def delete_all(
        self,
        resource_name: str | None,
        parent_id: str,
        filters: list[Filter] | None = None,
        sorting: list[Sort] | None = None,
        pagination_rules: list[list[Filter]] | None = None,
        limit: int | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
        with_deleted: bool = True,
    ) -> list[Object]:
        """Delete the matching live objects; return their tombstones.

        ``resource_name=None`` matches every resource (cascading deletes).
        """
        raise NotImplementedError

    def purge_deleted(
        self,
        resource_name: str | None,
        parent_id: str,
        before: int | None = None,
        max_retained: int | None = None,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> int:
        """Remove tombstones (older than ``before``, or all but the newest
        ``max_retained`` per group); return how many were removed."""
        raise NotImplementedError

    def purge_all(self, parent_id: str) -> int:
        """Remove every object and tombstone, of every resource, in the groups
        of ``parent_id`` (``*`` patterns allowed), forget those groups'
        timestamps, and return how many objects and tombstones were removed.

        The cascade of a bucket or collection deletion: unlike
        :meth:`delete_all` it is not capped at ``storage_max_fetch_size``
        (children beyond it would outlive their parent and reappear in a
        namesake), and it returns no tombstones, since nothing of the deleted
        tree is left to synchronize.
        """
        raise NotImplementedError

    def list_all(
        self,
        resource_name: str,
        parent_id: str,
        filters: list[Filter] | None = None,
        sorting: list[Sort] | None = None,
        pagination_rules: list[list[Filter]] | None = None,
        limit: int | None = None,
        include_deleted: bool = False,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
    ) -> list[Object]:
        """The matching objects (tombstones too if ``include_deleted``), sorted
        and cut at ``limit``.  Tombstones are ``{id, last_modified, deleted: True}``."""
        raise NotImplementedError

    def count_all(
        self,
        resource_name: str,
        parent_id: str,
        filters: list[Filter] | None = None,
        include_deleted: bool = False,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        deleted_field: str = DEFAULT_DELETED_FIELD,
    ) -> int:
        """How many live objects match (``Total-Objects`` of HEAD requests);
        tombstones count too with ``include_deleted`` (Kinto's counters plugin)."""
        raise NotImplementedError

    def count_by_resource(self, resource_names: list[str]) -> dict[str, ResourceCount]:
        """Live objects and tombstones of each named resource, under every parent.

        What ``/__counters__`` shows; a resource with nothing stored counts
        ``(0, 0)``.  Backends answer in one query, without loading objects.
        """
        raise NotImplementedError

    def trim_objects(
        self,
        resource_name: str,
        parent_id: str,
        filters: list[Filter],
        max_objects: int,
        id_field: str = DEFAULT_ID_FIELD,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
    ) -> int:
        """Delete (without tombstones) all but the newest ``max_objects`` matching
        objects; return how many were removed (history trimming)."""
        raise NotImplementedError
