"""Reading the outbox with a cursor, so no row is ever skipped nor read twice (DESIGN rule 4).

A consumer (the webhook gather; later the push pipeline) stores a ``Position`` and repeats::

    until = end(session)                               # after locking its cursor row
    rows = select(...).where(between(since, until))    # its own query; order by id within a batch
    since = until                                      # stored in the same transaction

SQLite serialises writers, so ids are in commit order and a position is the last id read.
PostgreSQL hands out ids when a row is written but makes rows visible when their transaction
commits: transaction A takes id 5, B takes id 7 and commits first, a reader passes 7, and 5 appears
behind it later. So there, as in PgQ, every row carries its transaction id (``outbox.txid``) and a
position is a snapshot (``pg_current_snapshot()``, the statement's own): which transactions were
complete. ``between(since, until)`` is exactly the rows whose transaction was complete in ``until``
but not in ``since``. Snapshots only grow, so each row falls between exactly one pair of successive
positions, whatever the order of ids and commits, and a long transaction delays only its own rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace

from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session
from sqlmodel import select

from dnp.publication.models import Outbox


@dataclass(frozen=True)
class Position:
    """A place in the outbox: the newest id seen and, on PostgreSQL, the snapshot taken there.

    Without a snapshot (SQLite, or a PostgreSQL cursor stored before transaction ids were recorded)
    every row with a higher id is ahead of it.
    """

    last_id: int = 0
    snapshot: str | None = None


@dataclass(frozen=True)
class _Snapshot:
    """A parsed ``pg_snapshot``: every transaction below ``xmin`` is complete, none from ``xmax``."""

    xmin: int
    xmax: int
    running: frozenset[int]

    @classmethod
    def parse(cls, value: str) -> _Snapshot:
        """Read PostgreSQL's documented text form ``xmin:xmax:xid,xid,...``."""
        xmin, xmax, running = value.split(":")
        return cls(int(xmin), int(xmax), frozenset(int(x) for x in running.split(",") if x))

    def __str__(self) -> str:
        return f"{self.xmin}:{self.xmax}:{','.join(str(x) for x in sorted(self.running))}"

    def complete(self) -> ColumnElement[bool]:
        """True for rows whose transaction was complete (committed, so visible now) in this snapshot."""
        done_between = [Outbox.txid < self.xmax]
        if self.running:
            done_between.append(Outbox.txid.not_in(sorted(self.running)))
        return or_(Outbox.txid < self.xmin, and_(*done_between))

    def incomplete(self) -> ColumnElement[bool]:
        """True for rows whose transaction had not completed in this snapshot."""
        later = [Outbox.txid >= self.xmax]
        if self.running:
            later.append(Outbox.txid.in_(sorted(self.running)))
        return and_(Outbox.txid >= self.xmin, or_(*later))


def end(*, session: Session) -> Position:
    """The position of everything this session can see now: a new consumer's start, or a read's end.

    On PostgreSQL the session's own transaction, if it has written, counts as not complete, so a row
    it writes after this call is still read later.
    """
    connection = session.connection()
    last_id = session.exec(select(func.max(Outbox.id))).one() or 0
    if connection.dialect.name != "postgresql":
        return Position(last_id)
    current, own = connection.execute(
        text("SELECT pg_current_snapshot()::text, pg_current_xact_id_if_assigned()::text")
    ).one()
    snapshot = _Snapshot.parse(current)
    if own is not None and int(own) < snapshot.xmax:
        # A snapshot leaves out its own transaction (its changes are visible to itself).
        own_id = int(own)
        snapshot = replace(snapshot, xmin=min(snapshot.xmin, own_id), running=snapshot.running | {own_id})
    return Position(last_id, str(snapshot))


def between(since: Position, until: Position) -> ColumnElement[bool]:
    """The outbox rows after ``since`` up to ``until`` (both from ``end``; ``until`` not older)."""
    if until.snapshot is None:
        return and_(Outbox.id > since.last_id, Outbox.id <= until.last_id)
    last = _Snapshot.parse(until.snapshot)
    if since.snapshot is None or went_back(since, until):
        # A cursor stored before transaction ids were recorded: migration 0007e waited for every
        # writer, so no row below its id can still appear; rows from before (no txid) are complete.
        # After a restore into another cluster the same: compared with the old snapshot every new
        # row would look long complete and never be read.
        return and_(Outbox.id > since.last_id, or_(Outbox.txid.is_(None), last.complete()))
    first = _Snapshot.parse(since.snapshot)
    # The outer bounds let PostgreSQL read just that range of the txid index.
    return and_(Outbox.txid >= first.xmin, Outbox.txid < last.xmax, first.incomplete(), last.complete())


def went_back(since: Position, until: Position) -> bool:
    """True if transaction ids went backwards between two positions (restored into another cluster).

    Within one cluster snapshots only grow; a database restored with pg_dump starts counting again.
    ``between`` then reads by id once, and the consumer should store ``until`` even if nothing was read.
    """
    if since.snapshot is None or until.snapshot is None:
        return False
    return _Snapshot.parse(since.snapshot).xmax > _Snapshot.parse(until.snapshot).xmax
