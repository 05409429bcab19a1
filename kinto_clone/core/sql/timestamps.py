"""Group timestamps, handed out in commit order.

Every object belongs to a group (``resource_name``, ``parent_id``) whose
timestamp is the newest ``last_modified`` in it, tombstones included.  A write
first takes the group's lock (held until commit), then reads the group's
timestamp and takes ``max(now, current + 1)``.  The next writer of the group
waits for that commit, so it reads a greater timestamp: within a group,
timestamp order is commit order, and a client polling ``?_since=`` never sees
a change before an earlier-stamped one is visible.  Concurrent writers wait for
each other instead of failing with a 409.

On PostgreSQL a write is one round trip: ``BEGIN``, the lock, then one
statement computing the timestamp (:data:`STAMP`), writing the object and
recording the group timestamp.  That statement starts once the lock is granted,
so it sees the previous holder's commit.  Under its lock a transaction also
remembers the group timestamp: the timestamp of the change event costs nothing.

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

__all__ = ["CURRENT_PARTS", "Group", "GroupTimestamps", "msec_now", "next_timestamp"]

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
    if is_stamp(wanted) and (previous is None or wanted > previous):
        return wanted
    if previous is None or now > previous:
        return now
    return previous + 1


def is_stamp(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _in_group(table: sa.Table) -> sa.ColumnElement[bool]:
    """Rows of the group given as the parameters ``rn`` and ``pid``."""
    return sa.and_(
        table.c.resource_name == sa.bindparam("rn", type_=sa.Text),
        table.c.parent_id == sa.bindparam("pid", type_=sa.Text),
    )


# The group's timestamp: its row, or its newest object should the row be
# missing.  Two index lookups (no scan of the group).
CURRENT_PARTS = (
    sa.select(timestamps.c.last_modified).where(_in_group(timestamps)).scalar_subquery(),
    sa.select(sa.func.max(objects.c.last_modified)).where(_in_group(objects)).scalar_subquery(),
)
CURRENT = sa.select(*CURRENT_PARTS)


def _stamp_expression() -> sa.ScalarSelect[int]:
    """:func:`next_timestamp` in SQL, for the group ``rn``/``pid``, with the
    parameters ``now`` and ``wanted`` (``NULL`` or a timestamp): the statement
    writing an object computes its timestamp itself, so that the lock, the
    read and the write go in one round trip."""
    stored = sa.select(timestamps.c.last_modified.label("stamp")).where(_in_group(timestamps))
    newest = sa.select(sa.func.max(objects.c.last_modified).label("stamp")).where(
        _in_group(objects)
    )
    both = sa.union_all(stored, newest).subquery("stamps")
    current = sa.select(sa.func.max(both.c.stamp).label("previous")).subquery("current")
    previous = current.c.previous
    now = sa.bindparam("now", type_=sa.BigInteger)
    wanted = sa.bindparam("wanted", type_=sa.BigInteger)
    stamp = sa.case(
        (previous.is_(None), sa.func.coalesce(wanted, now)),
        (wanted > previous, wanted),
        (now > previous, now),
        else_=previous + sa.literal_column("1", sa.BigInteger),
    )
    return sa.select(stamp).select_from(current).scalar_subquery()


STAMP = _stamp_expression()


def _replacing_timestamp(insert: Any) -> Any:
    """The upsert of group timestamps ``insert``: a group's row is replaced."""
    return insert.on_conflict_do_update(
        index_elements=[timestamps.c.resource_name, timestamps.c.parent_id],
        set_={"last_modified": insert.excluded.last_modified},
    )


def lock_name(group: Group) -> str:
    return "group:" + json.dumps(group)


class GroupTimestamps:
    """Locks, reads and records the timestamps of groups.

    Under a group's lock this transaction is its only writer: the timestamp it
    read or wrote stays current until commit, so it is kept in the
    participant's ``memo`` and not asked again (a batch of creations in one
    list reads it once).
    """

    def __init__(self, dialect: Dialect, clock: Callable[[], int] = msec_now) -> None:
        self._dialect = dialect
        self.clock = clock
        self._save = self._saving_statement()

    def _saving_statement(self) -> Any:
        insert = self._dialect.insert(timestamps).values(
            resource_name=sa.bindparam("rn", type_=sa.Text),
            parent_id=sa.bindparam("pid", type_=sa.Text),
            last_modified=sa.bindparam("stamp", type_=sa.BigInteger),
        )
        return _replacing_timestamp(insert)

    def lock(self, participant: SQLParticipant, groups: Iterable[Group]) -> Connection:
        """Make the transaction the only writer of ``groups`` until it ends."""
        return participant.lock(lock_name(group) for group in groups)

    def defer_lock(self, participant: SQLParticipant, groups: Iterable[Group]) -> None:
        """:meth:`lock`, sent with the transaction's next statement."""
        participant.defer_lock(lock_name(group) for group in groups)

    @staticmethod
    def _memo(participant: SQLParticipant) -> dict[Group, int]:
        stamps: dict[Group, int] = participant.memo.setdefault("group_timestamps", {})
        return stamps

    def current(self, participant: SQLParticipant, group: Group) -> int | None:
        """The group's timestamp, or ``None`` for a group never written.

        ``parent_id`` is literal here, ``*`` included (see :meth:`newest`).
        """
        memo = self._memo(participant)
        if group in memo:
            return memo[group]
        (row,) = participant.fetch(CURRENT, {"rn": group[0], "pid": group[1]})
        present = [value for value in row if value is not None]
        current = max(present) if present else None
        if current is not None and participant.holds(lock_name(group)):
            self._memo(participant)[group] = current
        return current

    def newest(self, participant: SQLParticipant, resource_name: str, pattern: str) -> int | None:
        """The newest timestamp of the groups whose parent matches ``pattern``
        (``*`` matching any text), ``None`` if there is none.

        A group holding objects always has its row, so that the ``timestamps``
        table alone answers.
        """
        query = sa.select(sa.func.max(timestamps.c.last_modified)).where(
            group_condition(timestamps, resource_name, pattern)
        )
        newest: int | None = participant.execute(query).scalar()
        return newest

    def current_of_groups(
        self, participant: SQLParticipant, groups: list[Group]
    ) -> dict[Group, int]:
        """:meth:`current` of several groups, absent ones left out."""
        if len(groups) == 1:
            current = self.current(participant, groups[0])
            return {} if current is None else {groups[0]: current}
        parts = []
        for table in (timestamps, objects):
            in_groups = self._dialect.keys_in([table.c.resource_name, table.c.parent_id], groups)
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
        return {(rn, pid): stamp for rn, pid, stamp in participant.execute(query)}

    def stamped(self, write: Any) -> Any:
        """The statement running ``write`` (which writes an object stamped
        with :data:`STAMP` and returns that timestamp) and recording the new
        group timestamp: one statement where the database allows (PostgreSQL),
        else :meth:`write` records it with a second one."""
        if not self._dialect.writes_in_common_table_expressions:
            return write
        written = write.cte("written")
        recorded = sa.select(
            sa.bindparam("rn", type_=sa.Text),
            sa.bindparam("pid", type_=sa.Text),
            written.c.last_modified,
        )
        insert = self._dialect.insert(timestamps).from_select(
            ["resource_name", "parent_id", "last_modified"], recorded
        )
        return _replacing_timestamp(insert).returning(timestamps.c.last_modified)

    def write(
        self,
        participant: SQLParticipant,
        group: Group,
        statement: Any,
        parameters: dict[str, Any],
        wanted: Any = None,
    ) -> int | None:
        """Lock ``group`` and run a :meth:`stamped` statement: the timestamp
        of the object it wrote (the new group timestamp), or ``None`` if it
        wrote nothing.  ``wanted`` is the client's ``last_modified``."""
        parameters = {
            **parameters,
            "rn": group[0],
            "pid": group[1],
            "now": self.clock(),
            "wanted": wanted if is_stamp(wanted) else None,
        }
        rows = participant.fetch_locked([lock_name(group)], statement, parameters)
        if not rows:
            return None
        stamp: int = rows[0][0]
        if not self._dialect.writes_in_common_table_expressions:
            participant.execute(self._save, {**parameters, "stamp": stamp})
        self._memo(participant)[group] = stamp
        return stamp

    def save(self, participant: SQLParticipant, stamps: dict[Group, int]) -> None:
        """Record the new timestamps of groups (locked by the caller)."""
        rows = [{"rn": rn, "pid": pid, "stamp": stamp} for (rn, pid), stamp in stamps.items()]
        participant.execute(self._save, rows)
        self._memo(participant).update(stamps)

    def initialize(self, participant: SQLParticipant, group: Group) -> int:
        """The timestamp of a group never written: now, recorded under the
        group's lock so that it cannot interleave with the group's first object."""
        self.lock(participant, [group])
        current = self.current(participant, group)
        if current is None:
            current = self.clock()
            self.save(participant, {group: current})
        return current

    def forget(self, participant: SQLParticipant) -> None:
        """Drop what this transaction knows of group timestamps (flush)."""
        self._memo(participant).clear()

    def forget_empty(self, participant: SQLParticipant, parent_id: str) -> None:
        """Drop the timestamps of emptied groups under ``parent_id``, so that a
        re-created bucket or collection starts afresh; groups still holding
        objects keep theirs."""
        participant.writer()
        in_parent = group_condition(timestamps, None, parent_id)
        query = sa.select(timestamps.c.resource_name, timestamps.c.parent_id).where(in_parent)
        groups = [(rn, pid) for rn, pid in participant.execute(query)]
        if not groups:
            return
        # Under the groups' locks, no object can appear between check and delete.
        self.lock(participant, groups)
        holding = sa.select(objects.c.id).where(
            objects.c.resource_name == timestamps.c.resource_name,
            objects.c.parent_id == timestamps.c.parent_id,
        )
        participant.execute(sa.delete(timestamps).where(in_parent, ~holding.exists()))
        memo = self._memo(participant)
        for group in groups:
            memo.pop(group, None)
