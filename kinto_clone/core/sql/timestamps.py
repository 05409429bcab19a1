"""Group timestamps, handed out in commit order.

Every object belongs to a group (``resource_name``, ``parent_id``) whose
timestamp is the newest ``last_modified`` in it, tombstones included.  A write
first takes the group's lock (held until commit), then reads the group's
timestamp and takes ``max(now, current + 1)``.  The next writer of the group
waits for that commit, so it reads a greater timestamp: within a group,
timestamp order is commit order, and a client polling ``?_since=`` never sees
a change before an earlier-stamped one is visible.  Concurrent writers wait for
each other instead of failing with a 409.

The ``timestamps`` table holds the timestamp of every group that was written
or read (an empty group keeps the one it got when first read); a group holding
objects always has its row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kinto_clone.core.sql.dialects import Dialect
from kinto_clone.core.sql.query import group_condition
from kinto_clone.core.sql.session import SQLParticipant
from kinto_clone.core.sql.tables import objects, timestamps

__all__ = ["Group", "GroupTimestamps", "msec_now", "next_timestamp"]

Group = tuple[str, str]


def msec_now() -> int:
    """Milliseconds since the epoch, the unit of every ``last_modified``."""
    return time.time_ns() // 1_000_000


def next_timestamp(previous: int | None, wanted: Any, now: int) -> int:
    """Timestamp of a write in a group whose current timestamp is ``previous``.

    A ``wanted`` timestamp (client-supplied ``last_modified``) is kept when it
    moves the group forward; an older one would hide the write from clients
    already synchronized past it, so it gets a fresh timestamp instead.
    """
    is_stamp = isinstance(wanted, int) and not isinstance(wanted, bool)
    if is_stamp and (previous is None or wanted > previous):
        return wanted
    if previous is None or now > previous:
        return now
    return previous + 1


def literal_group(table: sa.Table, group: Group) -> sa.ColumnElement[bool]:
    resource_name, parent_id = group
    return sa.and_(table.c.resource_name == resource_name, table.c.parent_id == parent_id)


class GroupTimestamps:
    """Locks, reads and records the timestamps of groups."""

    def __init__(self, dialect: Dialect, clock: Callable[[], int] = msec_now) -> None:
        self._dialect = dialect
        self.clock = clock

    def lock(self, participant: SQLParticipant, groups: Iterable[Group]) -> Connection:
        """Make the transaction the only writer of ``groups`` until it ends."""
        return participant.lock("group:" + json.dumps(group) for group in groups)

    def current(self, connection: Connection, group: Group) -> int | None:
        """The group's timestamp: its row, or its newest object should the row
        be missing.  Two index lookups (no scan of the group).

        ``parent_id`` is literal here, ``*`` included, as in the memory backend
        and Kinto: listing with a wildcard parent (accounts of an admin) has
        the timestamp of the group named ``*``.
        """
        stored = sa.select(timestamps.c.last_modified).where(literal_group(timestamps, group))
        newest = sa.select(sa.func.max(objects.c.last_modified)).where(
            literal_group(objects, group)
        )
        row = connection.execute(
            sa.select(stored.scalar_subquery(), newest.scalar_subquery())
        ).one()
        present = [value for value in row if value is not None]
        return max(present) if present else None

    def current_of_groups(self, connection: Connection, groups: list[Group]) -> dict[Group, int]:
        """:meth:`current` of several groups, absent ones left out."""
        if len(groups) == 1:
            current = self.current(connection, groups[0])
            return {} if current is None else {groups[0]: current}
        parts = []
        for table in (timestamps, objects):
            in_groups = sa.tuple_(table.c.resource_name, table.c.parent_id).in_(groups)
            parts.append(
                sa.select(
                    table.c.resource_name,
                    table.c.parent_id,
                    sa.func.max(table.c.last_modified).label("last_modified"),
                )
                .where(in_groups)
                .group_by(table.c.resource_name, table.c.parent_id)
            )
        both = sa.union_all(*parts).subquery()
        query = sa.select(
            both.c.resource_name, both.c.parent_id, sa.func.max(both.c.last_modified)
        ).group_by(both.c.resource_name, both.c.parent_id)
        return {(rn, pid): stamp for rn, pid, stamp in connection.execute(query)}

    def next(self, connection: Connection, group: Group, wanted: Any = None) -> int:
        """Timestamp of a write in ``group``, whose lock the caller holds."""
        return next_timestamp(self.current(connection, group), wanted, self.clock())

    def save(self, connection: Connection, stamps: dict[Group, int]) -> None:
        """Record the new timestamps of groups (locked by the caller)."""
        insert = self._dialect.insert(timestamps).values(
            [
                {"resource_name": rn, "parent_id": pid, "last_modified": stamp}
                for (rn, pid), stamp in stamps.items()
            ]
        )
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=[timestamps.c.resource_name, timestamps.c.parent_id],
                set_={"last_modified": insert.excluded.last_modified},
            )
        )

    def forget_empty(self, participant: SQLParticipant, parent_id: str) -> None:
        """Drop the timestamps of emptied groups under ``parent_id``, so that a
        re-created bucket or collection starts afresh; groups still holding
        objects keep theirs."""
        connection = participant.writer()
        in_parent = group_condition(timestamps, None, parent_id)
        query = sa.select(timestamps.c.resource_name, timestamps.c.parent_id).where(in_parent)
        groups = [(rn, pid) for rn, pid in connection.execute(query)]
        if not groups:
            return
        # Under the groups' locks, no object can appear between check and delete.
        self.lock(participant, groups)
        holding = sa.select(objects.c.id).where(
            objects.c.resource_name == timestamps.c.resource_name,
            objects.c.parent_id == timestamps.c.parent_id,
        )
        connection.execute(sa.delete(timestamps).where(in_parent, ~holding.exists()))
