"""Push intake: the push cursor in the outbox, and the dirty marks on the objects to send.

``gather`` reads new outbox rows with the push cursor and marks their objects dirty, due after the
coalescing window, so a burst of changes is one call; ``start`` and ``full_sync`` mark everything.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery import outbox
from dnp.delivery.push.models import CHUNK
from dnp.delivery.push.models import ORDER
from dnp.delivery.push.models import PushCursor
from dnp.delivery.push.models import PushObject
from dnp.delivery.push.timing import Timing
from dnp.publication.models import Outbox
from dnp.publication.models import PublishedEntity
from dnp.types import UTCDateTime

# Objects inserted at once above which the planner's statistics are refreshed.
ANALYZE_ABOVE = 10_000


def start(now: datetime, *, session: Session) -> None:
    """Start pushing (in the transaction that switches to push): cursor at the outbox's end, full sync.

    The cursor is the outbox's end as this transaction sees it, so every change not complete by then
    is gathered later; everything published now is marked to be sent.
    """
    cursor = session.get(PushCursor, 1, with_for_update=True) or PushCursor(id=1)
    position = outbox.end(session=session)
    cursor.last_outbox_id, cursor.snapshot, cursor.started_at = position.last_id, position.snapshot, now
    session.add(cursor)
    session.flush()
    full_sync(now, session=session)


def full_sync(now: datetime, *, session: Session) -> int:
    """Mark everything published, and everything Skolverket holds that left, to be sent; returns how many."""
    table = PushObject.__table__
    published = PublishedEntity.__table__
    connection = session.connection()
    marked = connection.execute(
        update(table)
        .where(table.c.resource.in_(ORDER))
        .where(or_(table.c.remote.is_(True), published_exists(table)))
        .values(dirty=True, due_at=now, failed=False, attempts=0, trying_since=None)
    ).rowcount
    published_rows = sa_select(
        published.c.resource,
        published.c.id,
        literal(True),
        literal(now, UTCDateTime),
        literal(False),
        literal(""),
        literal(""),
        literal(""),
        literal(0),
        literal(False),
        literal(False),
    ).where(published.c.resource.in_(ORDER))
    # ON CONFLICT rather than NOT EXISTS on the table being filled: on a first switch the planner sees
    # an empty table and rescans it for every row inserted (minutes for 100,000 objects).
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    count = sa_select(func.count()).select_from(table)
    before = connection.execute(count).scalar_one()
    connection.execute(
        dialect.insert(table)
        .from_select(
            [
                "resource",
                "entity_id",
                "dirty",
                "due_at",
                "remote",
                "sent_action",
                "sent_hash",
                "status",
                "attempts",
                "failed",
                "incomplete",
            ],
            published_rows,
        )
        .on_conflict_do_nothing()
    )
    # Counted, not the statement's rowcount: PostgreSQL's driver gives -1 for this form.
    inserted = connection.execute(count).scalar_one() - before
    if inserted > ANALYZE_ABOVE:
        # Fresh statistics in this transaction (both databases count its own rows): planned for an
        # empty table, every sweep's lookups scan all of it.
        connection.execute(text("ANALYZE push_object"))
    return marked + inserted


def published_exists(table):
    """SQL: the push object's document is (still) in the publication."""
    published = PublishedEntity.__table__
    return (
        sa_select(published.c.id)
        .where(published.c.resource == table.c.resource, published.c.id == table.c.entity_id)
        .exists()
    )


def mark_dirty(
    resource: str, ids: list[str], due: datetime, force: bool = False, *, session: Session
) -> None:
    """Mark objects to be sent once ``due`` (an object already waiting keeps its earlier time).

    ``force`` (a manual resend) also clears the failed mark and the retry count.
    """
    table = PushObject.__table__
    connection = session.connection()
    for start_at in range(0, len(ids), CHUNK):
        part = ids[start_at : start_at + CHUNK]
        values: dict = {"dirty": True, "due_at": _earlier(table, due)}
        if force:
            values.update(failed=False, attempts=0, trying_since=None, due_at=due)
        connection.execute(
            update(table).where(table.c.resource == resource, table.c.entity_id.in_(part)).values(**values)
        )
        known = set(
            connection.execute(
                sa_select(table.c.entity_id).where(table.c.resource == resource, table.c.entity_id.in_(part))
            ).scalars()
        )
        new = [entity_id for entity_id in part if entity_id not in known]
        if new:
            connection.execute(
                insert(table),
                [
                    {
                        "resource": resource,
                        "entity_id": entity_id,
                        "dirty": True,
                        "due_at": due,
                        "remote": False,
                        "sent_action": "",
                        "sent_hash": "",
                        "status": "",
                        "log_entries": [],
                        "left_out": [],
                        "incomplete": False,
                        "attempts": 0,
                        "failed": False,
                    }
                    for entity_id in new
                ],
            )


def _earlier(table, due: datetime):
    return case((and_(table.c.dirty.is_(True), table.c.due_at < due), table.c.due_at), else_=due)


def lock_cursor(*, session: Session) -> PushCursor | None:
    """Lock the cursor row, so sweepers gather and plan one at a time (SQLite: takes the write lock)."""
    session.execute(update(PushCursor).where(PushCursor.id == 1).values(id=1))
    return session.get(PushCursor, 1, with_for_update=True, populate_existing=True)


def gather(now: datetime, timing: Timing, *, session: Session) -> int:
    """Mark the objects of new outbox rows dirty (due after the coalescing window); returns rows read."""
    cursor = lock_cursor(session=session)
    if cursor is None:
        return 0
    since = outbox.Position(cursor.last_outbox_id, cursor.snapshot)
    until = outbox.end(session=session)
    rows = session.exec(
        select(Outbox.resource, Outbox.entity_id)
        .where(outbox.between(since, until), Outbox.resource.in_(ORDER))
        .distinct()
    ).all()
    by_resource: dict[str, list[str]] = {}
    for resource, entity_id in rows:
        by_resource.setdefault(resource, []).append(entity_id)
    due = now + timedelta(seconds=timing.coalesce_seconds)
    for resource, ids in by_resource.items():
        mark_dirty(resource, sorted(ids), due, session=session)
    cursor.last_outbox_id, cursor.snapshot = until.last_id, until.snapshot
    session.add(cursor)
    return len(rows)
