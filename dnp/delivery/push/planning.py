"""Push planning: due dirty objects whose order rules are met become size-limited bulk calls.

Deletes go the other way round (Activity first, Person last); each body is at most ``max_bytes``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery.push.intake import lock_cursor
from dnp.delivery.push.intake import published_exists
from dnp.delivery.push.models import CHUNK
from dnp.delivery.push.models import ORDER
from dnp.delivery.push.models import PushBatch
from dnp.delivery.push.models import PushObject
from dnp.delivery.push.order import Item
from dnp.delivery.push.order import content
from dnp.delivery.push.order import ready
from dnp.delivery.push.order import references
from dnp.delivery.push.order import states
from dnp.delivery.push.timing import Timing
from dnp.publication.models import PublishedEntity
from dnp.types import text_hash

# Objects planned per resource type in one sweep: bounds a sweep's memory; the rest go next sweep.
PLAN_LIMIT = 5000
ENVELOPE = len(b'{"data":[]}')
# What each type's order rule waits for (order.ready).
WAITS_FOR = {"Person": (), "Duty": ("Person",), "Group": ("Person",), "Activity": ("Group", "Duty")}
# A last call of a plan at least this full of ``max_bytes`` is sent even when more objects follow.
FULL_ENOUGH = 0.5
# Per process (the one sweeper) and database: what a waiting type's plan last saw. Checking 4,308 Groups
# against 107,736 Persons took seconds a sweep while they waited; with nothing they depend on changed,
# the plan would come out the same, so it is not made again.
_last_seen: dict[tuple[int, str], tuple] = {}


def plan(now: datetime, timing: Timing, *, session: Session) -> list[int]:
    """Make bulk calls of the due objects whose order rules are met; returns the new batch ids."""
    if lock_cursor(session=session) is None:
        return []
    made: list[int] = []
    for resource in reversed(ORDER):  # deletes: Activity first, Person last
        if _deletes_ahead(session, resource):
            continue
        items = _due_deletes(session, resource, now)
        made += _batches(session, resource, "delete", items, timing, now)
    for resource in ORDER:
        seen = _inputs(session, resource, now)
        key = (id(session.get_bind()), resource)
        if seen is not None and _last_seen.get(key) == seen:
            continue
        _last_seen[key] = seen
        items, more = _due_upserts(session, resource, now)
        runs = pack(items, timing.max_bytes)
        # More of this type follow soon (the rest of a full sync, or what waits for answers in flight):
        # a small last call now would spend a call, and its two status calls, of the 5/s on a few
        # objects. Its objects stay dirty and go with the next ones.
        small_last = runs and _size(runs[-1]) < timing.max_bytes * FULL_ENOUGH
        if small_last and (more or _prerequisites_in_flight(session, resource)):
            runs.pop()
        made += [store_batch(resource, "upsert", run, now, session=session) for run in runs]
    return made


def _inputs(session: Session, resource: str, now: datetime) -> tuple | None:
    """What a waiting type's plan depends on: its due objects, and the answers and calls of what it waits for.

    None for a type that waits for nothing (it is always planned). Answers set ``answered_at``; a call
    that failed or was split changes the calls in flight; a new change adds a due object.
    """
    before = WAITS_FOR[resource]
    if not before:
        return None
    due = session.execute(
        sa_select(func.count(), func.max(PushObject.due_at)).where(*_due(resource, now))
    ).one()
    if not due[0]:
        return None  # nothing to plan: cheap either way
    answers = session.execute(
        sa_select(func.count(), func.max(PushObject.answered_at)).where(PushObject.resource.in_(before))
    ).one()
    calls = session.execute(
        sa_select(func.count(), func.max(PushBatch.id)).where(PushBatch.status.in_(("new", "polling")))
    ).one()
    return (*due, *answers, *calls)


def _prerequisites_in_flight(session: Session, resource: str) -> bool:
    """Whether calls of the types ``resource`` waits for are sent and not yet answered."""
    before = {"Person": (), "Duty": ("Person",), "Group": ("Person",), "Activity": ("Group", "Duty")}[
        resource
    ]
    if not before:
        return False
    in_flight = session.exec(
        select(PushBatch.id)
        .where(
            PushBatch.resource.in_(before),
            PushBatch.action == "upsert",
            PushBatch.status.in_(("new", "polling")),
        )
        .limit(1)
    ).first()
    return in_flight is not None


def _size(run: list[Item]) -> int:
    return ENVELOPE + sum(len(item.text.encode("utf-8")) + 1 for item in run)


def _due(resource: str, now: datetime):
    return (
        PushObject.resource == resource,
        PushObject.dirty.is_(True),
        PushObject.batch_id.is_(None),
        PushObject.due_at <= now,
    )


def _deletes_ahead(session: Session, resource: str) -> bool:
    """Whether deletes of types after ``resource`` in the order are still to come, be sent or answered."""
    later = ORDER[ORDER.index(resource) + 1 :]
    if not later:
        return False
    in_flight = session.exec(
        select(func.count())
        .select_from(PushBatch)
        .where(
            PushBatch.resource.in_(later),
            PushBatch.action == "delete",
            PushBatch.status.in_(("new", "polling")),
        )
    ).one()
    if in_flight:
        return True
    table = PushObject.__table__
    # Left the publication and held by Skolverket, or in a call still in flight (an upsert that left
    # meanwhile is held once answered): its delete comes first.
    waiting = session.execute(
        sa_select(func.count())
        .select_from(table)
        .where(
            table.c.resource.in_(later),
            or_(table.c.batch_id.is_not(None), and_(table.c.dirty.is_(True), table.c.remote.is_(True))),
            ~published_exists(table),
        )
    ).scalar_one()
    return bool(waiting)


def _due_deletes(session: Session, resource: str, now: datetime) -> list[Item]:
    """Due objects that left the publication; those Skolverket never held are simply forgotten."""
    table = PushObject.__table__
    rows = session.execute(
        sa_select(table.c.entity_id, table.c.remote)
        .where(*_due(resource, now), ~published_exists(table))
        .order_by(table.c.entity_id)
        .limit(PLAN_LIMIT)
    ).all()
    gone = [entity_id for entity_id, remote in rows if not remote]
    for start_at in range(0, len(gone), CHUNK):
        session.execute(
            delete(PushObject).where(
                PushObject.resource == resource, PushObject.entity_id.in_(gone[start_at : start_at + CHUNK])
            )
        )
    return [Item(entity_id, entity_id, []) for entity_id, remote in rows if remote]


def _due_upserts(session: Session, resource: str, now: datetime) -> tuple[list[Item], bool]:
    """Due published objects whose order rule is met, as the documents to send; and whether more are due."""
    rows = session.execute(
        sa_select(PushObject.entity_id, PublishedEntity.document)
        .join(
            PublishedEntity,
            and_(PublishedEntity.resource == PushObject.resource, PublishedEntity.id == PushObject.entity_id),
        )
        .where(*_due(resource, now))
        .order_by(PushObject.entity_id)
        .limit(PLAN_LIMIT)
    ).all()
    documents = {entity_id: content(text) for entity_id, text in rows}
    refs = references(resource, documents)
    known = states(refs, session=session)
    items: list[Item] = []
    for entity_id, document in documents.items():
        item = ready(resource, entity_id, document, known)
        if item is not None:
            items.append(item)
    return items, len(rows) == PLAN_LIMIT


def _batches(
    session: Session, resource: str, action: str, items: list[Item], timing: Timing, now: datetime
) -> list[int]:
    """Pack items into bodies of at most ``max_bytes`` (measured, UTF-8) and store them as batches."""
    made = []
    for group in pack(items, timing.max_bytes):
        made.append(store_batch(resource, action, group, now, session=session))
    return made


def pack(items: list[Item], max_bytes: int) -> list[list[Item]]:
    """Split items, in order, into runs whose ``{"data": [...]}`` body is at most ``max_bytes``.

    An item too large on its own gets a run of its own (Skolverket will answer 413; it is then refused).
    """
    runs: list[list[Item]] = []
    current: list[Item] = []
    size = ENVELOPE
    for item in items:
        length = len(item.text.encode("utf-8")) + (1 if current else 0)
        if current and size + length > max_bytes:
            runs.append(current)
            current, size, length = [], ENVELOPE, length - 1
        current.append(item)
        size += length
    if current:
        runs.append(current)
    return runs


def body_of(items: list[Item]) -> str:
    """The request body for a run of items."""
    return '{"data":[' + ",".join(item.text for item in items) + "]}"


def store_batch(resource: str, action: str, items: list[Item], now: datetime, *, session: Session) -> int:
    """A new batch of these items, which leave the dirty set and point at it."""
    batch = PushBatch(
        resource=resource,
        action=action,
        entity_ids=[item.entity_id for item in items],
        items={item.entity_id: {"hash": text_hash(item.text), "left_out": item.left_out} for item in items},
        body=body_of(items),
        due_at=now,
    )
    batch.size = len(batch.body.encode("utf-8"))
    session.add(batch)
    session.flush()
    ids = batch.entity_ids
    for start_at in range(0, len(ids), CHUNK):
        session.execute(
            update(PushObject)
            .where(
                PushObject.resource == resource, PushObject.entity_id.in_(ids[start_at : start_at + CHUNK])
            )
            .values(dirty=False, batch_id=batch.id)
        )
    return batch.id
