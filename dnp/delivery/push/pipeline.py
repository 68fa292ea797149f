"""The push pipeline's state machine: outbox → dirty objects → ordered, size-limited bulk calls → answers.

Every step is a short transaction on the tables in ``models``, so any step may die and the next sweep
takes it up again:

* ``gather`` reads new outbox rows with the push cursor and marks their objects dirty (due after the
  coalescing window, so a burst is one call);
* ``plan`` turns due dirty objects into ``PushBatch`` rows whose order rules are met (Person → Duty →
  Group → Activity; deletes the other way round), each body at most ``max_bytes``;
* ``claim`` gives a batch to one job for a lease; ``sent`` / ``send_failed`` / ``split`` record a send;
  ``record_answers`` stores Skolverket's per-object answers and wakes what waited for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlalchemy import update
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery import outbox
from dnp.delivery.deliveries import BACKOFF
from dnp.delivery.deliveries import GIVE_UP_AFTER
from dnp.delivery.push.models import ACCEPTED
from dnp.delivery.push.models import PushAnswer
from dnp.delivery.push.models import PushBatch
from dnp.delivery.push.models import PushCursor
from dnp.delivery.push.models import PushObject
from dnp.publication.models import Outbox
from dnp.publication.models import PublishedEntity
from dnp.types import UTCDateTime
from dnp.types import text_hash

# Skolverket's order (transfer-methods.md §5.1); Organisations are not sent (Skolverket has them).
ORDER = ("Person", "Duty", "Group", "Activity")
PATHS = {"Person": "persons", "Duty": "duties", "Group": "groups", "Activity": "activities"}
CHUNK = 500
# Objects planned per resource type in one sweep: bounds a sweep's memory; the rest go next sweep.
PLAN_LIMIT = 5000
ENVELOPE = len(b'{"data":[]}')


@dataclass(frozen=True)
class Timing:
    """Push timing and limits; ``scale`` < 1 makes days pass in seconds (tests), as for webhooks."""

    coalesce_seconds: float = 5
    scale: float = 1.0
    lease_seconds: float = 90
    poll_seconds: float = 2
    pending_limit_seconds: float = 1800  # a job still Pending after this is given up and resent
    max_bytes: int = 200_000

    def backoff(self, attempts: int) -> timedelta:
        """Wait before the next attempt, after ``attempts`` failed ones (the webhooks' steps)."""
        seconds = BACKOFF[min(attempts, len(BACKOFF)) - 1] if attempts else 0
        return timedelta(seconds=seconds * self.scale)

    @property
    def give_up_after(self) -> timedelta:
        """How long temporary failures are retried before the object is marked failed (3 days)."""
        return GIVE_UP_AFTER * self.scale

    @property
    def pending_limit(self) -> timedelta:
        """How long a job may stay Pending before its objects are sent again."""
        return timedelta(seconds=self.pending_limit_seconds * self.scale)


# -- the cursor and dirty marks --------------------------------------------------------------------


def start(session: Session, now: datetime) -> None:
    """Start pushing (in the transaction that switches to push): cursor at the outbox's end, full sync.

    The cursor is the outbox's end as this transaction sees it, so every change not complete by then
    is gathered later; everything published now is marked to be sent.
    """
    cursor = session.get(PushCursor, 1, with_for_update=True) or PushCursor(id=1)
    position = outbox.end(session=session)
    cursor.last_outbox_id, cursor.snapshot, cursor.started_at = position.last_id, position.snapshot, now
    session.add(cursor)
    session.flush()
    full_sync(session, now)


def full_sync(session: Session, now: datetime) -> int:
    """Mark everything published, and everything Skolverket holds that left, to be sent; returns how many."""
    table = PushObject.__table__
    published = PublishedEntity.__table__
    connection = session.connection()
    marked = connection.execute(
        update(table)
        .where(table.c.resource.in_(ORDER))
        .where(or_(table.c.remote.is_(True), _published_exists(table)))
        .values(dirty=True, due_at=now, failed=False, attempts=0, trying_since=None)
    ).rowcount
    missing = sa_select(
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
    ).where(
        published.c.resource.in_(ORDER),
        ~sa_select(table.c.entity_id)
        .where(table.c.resource == published.c.resource, table.c.entity_id == published.c.id)
        .exists(),
    )
    inserted = connection.execute(
        insert(table).from_select(
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
            missing,
        )
    ).rowcount
    return marked + inserted


def _published_exists(table):
    published = PublishedEntity.__table__
    return (
        sa_select(published.c.id)
        .where(published.c.resource == table.c.resource, published.c.id == table.c.entity_id)
        .exists()
    )


def mark_dirty(session: Session, resource: str, ids: list[str], due: datetime, force: bool = False) -> None:
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


def _lock_cursor(session: Session) -> PushCursor | None:
    """Lock the cursor row, so sweepers gather and plan one at a time (SQLite: takes the write lock)."""
    session.execute(update(PushCursor).where(PushCursor.id == 1).values(id=1))
    return session.get(PushCursor, 1, with_for_update=True, populate_existing=True)


def gather(session: Session, now: datetime, timing: Timing) -> int:
    """Mark the objects of new outbox rows dirty (due after the coalescing window); returns rows read."""
    cursor = _lock_cursor(session)
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
        mark_dirty(session, resource, sorted(ids), due)
    cursor.last_outbox_id, cursor.snapshot = until.last_id, until.snapshot
    session.add(cursor)
    return len(rows)


# -- planning --------------------------------------------------------------------------------------


@dataclass
class _Item:
    entity_id: str
    body: object  # the object (upsert) or the bare id (delete)
    left_out: list[str]

    @property
    def text(self) -> str:
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))


def plan(session: Session, now: datetime, timing: Timing) -> list[int]:
    """Make bulk calls of the due objects whose order rules are met; returns the new batch ids."""
    if _lock_cursor(session) is None:
        return []
    made: list[int] = []
    for resource in reversed(ORDER):  # deletes: Activity first, Person last
        if _deletes_ahead(session, resource):
            continue
        items = _due_deletes(session, resource, now)
        made += _batches(session, resource, "delete", items, timing, now)
    for resource in ORDER:
        items = _due_upserts(session, resource, now)
        made += _batches(session, resource, "upsert", items, timing, now)
    return made


def _due(resource: str, now: datetime):
    return (
        PushObject.resource == resource,
        PushObject.dirty.is_(True),
        PushObject.batch_id.is_(None),
        PushObject.due_at <= now,
    )


def _deletes_ahead(session: Session, resource: str) -> bool:
    """Whether deletes of types after ``resource`` in the order are still to be sent or answered."""
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
    waiting = session.execute(
        sa_select(func.count())
        .select_from(table)
        .where(
            table.c.resource.in_(later),
            table.c.dirty.is_(True),
            table.c.remote.is_(True),
            ~_published_exists(table),
        )
    ).scalar_one()
    return bool(waiting)


def _due_deletes(session: Session, resource: str, now: datetime) -> list[_Item]:
    """Due objects that left the publication; those Skolverket never held are simply forgotten."""
    table = PushObject.__table__
    rows = session.execute(
        sa_select(table.c.entity_id, table.c.remote)
        .where(*_due(resource, now), ~_published_exists(table))
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
    return [_Item(entity_id, entity_id, []) for entity_id, remote in rows if remote]


def _due_upserts(session: Session, resource: str, now: datetime) -> list[_Item]:
    """Due published objects whose order rule is met, as the documents to send."""
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
    documents = {entity_id: _content(text) for entity_id, text in rows}
    refs = _references(resource, documents)
    known = _states(session, refs)
    items: list[_Item] = []
    for entity_id, document in documents.items():
        item = _ready(resource, entity_id, document, known)
        if item is not None:
            items.append(item)
    return items


def _content(text: str) -> dict:
    document = json.loads(text)
    document.pop("meta", None)
    return document


def _references(resource: str, documents: dict[str, dict]) -> dict[str, set[str]]:
    refs: dict[str, set[str]] = {"Person": set(), "Duty": set(), "Group": set()}
    for document in documents.values():
        if resource == "Duty":
            refs["Person"].add(str((document.get("person") or {}).get("id")))
        elif resource == "Group":
            refs["Person"].update(_member_ids(document))
        elif resource == "Activity":
            refs["Group"].update(str(group.get("id")) for group in document.get("groups") or [])
            refs["Duty"].update(_teacher_duties(document))
    return refs


def _member_ids(document: dict) -> list[str]:
    return [str((m.get("person") or {}).get("id")) for m in document.get("groupMemberships") or []]


def _teacher_duties(document: dict) -> list[str]:
    return [str((t.get("duty") or {}).get("id")) for t in document.get("teachers") or []]


def _states(session: Session, refs: dict[str, set[str]]) -> dict[tuple[str, str], tuple[bool, bool]]:
    """(resource, id) → (Skolverket holds it, it has been answered at least once)."""
    found: dict[tuple[str, str], tuple[bool, bool]] = {}
    for resource, ids in refs.items():
        ordered = sorted(ids)
        for start_at in range(0, len(ordered), CHUNK):
            rows = session.execute(
                sa_select(PushObject.entity_id, PushObject.remote, PushObject.answered_at).where(
                    PushObject.resource == resource,
                    PushObject.entity_id.in_(ordered[start_at : start_at + CHUNK]),
                )
            ).all()
            for entity_id, remote, answered_at in rows:
                found[(resource, entity_id)] = (bool(remote), answered_at is not None)
    return found


def _ready(resource: str, entity_id: str, document: dict, known) -> _Item | None:
    """The object to send if its order rule is met, else None (it stays dirty and waits).

    Duty: its Person accepted. Group: every member answered at least once; carries the accepted ones.
    Activity: its groups accepted and every teacher's Duty answered; carries the accepted Duties.
    """

    def remote(kind: str, ref: str) -> bool:
        return known.get((kind, ref), (False, False))[0]

    def answered(kind: str, ref: str) -> bool:
        return known.get((kind, ref), (False, False))[1]

    if resource == "Duty" and not remote("Person", str((document.get("person") or {}).get("id"))):
        return None
    if resource == "Group":
        members = _member_ids(document)
        if not all(answered("Person", member) for member in members):
            return None
        left_out = sorted(member for member in members if not remote("Person", member))
        document["groupMemberships"] = [
            m for m in document.get("groupMemberships") or [] if str(m["person"]["id"]) not in left_out
        ]
        return _Item(entity_id, document, left_out)
    if resource == "Activity":
        groups = [str(group.get("id")) for group in document.get("groups") or []]
        if not groups or not all(remote("Group", group) for group in groups):
            return None
        duties = _teacher_duties(document)
        if not all(answered("Duty", duty) for duty in duties):
            return None
        left_out = sorted(duty for duty in duties if not remote("Duty", duty))
        document["teachers"] = [
            t for t in document.get("teachers") or [] if str(t["duty"]["id"]) not in left_out
        ]
        return _Item(entity_id, document, left_out)
    return _Item(entity_id, document, [])


def _batches(
    session: Session, resource: str, action: str, items: list[_Item], timing: Timing, now: datetime
) -> list[int]:
    """Pack items into bodies of at most ``max_bytes`` (measured, UTF-8) and store them as batches."""
    made = []
    for group in pack(items, timing.max_bytes):
        made.append(store_batch(session, resource, action, group, now))
    return made


def pack(items: list[_Item], max_bytes: int) -> list[list[_Item]]:
    """Split items, in order, into runs whose ``{"data": [...]}`` body is at most ``max_bytes``.

    An item too large on its own gets a run of its own (Skolverket will answer 413; it is then refused).
    """
    runs: list[list[_Item]] = []
    current: list[_Item] = []
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


def body_of(items: list[_Item]) -> str:
    """The request body for a run of items."""
    return '{"data":[' + ",".join(item.text for item in items) + "]}"


def store_batch(session: Session, resource: str, action: str, items: list[_Item], now: datetime) -> int:
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


# -- sending and answers -------------------------------------------------------------------------


def release_lost(session: Session, now: datetime) -> int:
    """Claims whose lease ran out were lost (a killed worker): count an attempt, so the next job id differs.

    RQ may still hold the lost job as started under the old id; a new id lets the step run again now.
    """
    lost = session.exec(
        select(PushBatch).where(PushBatch.status.in_(("new", "polling")), PushBatch.lease_until < now)
    ).all()
    for batch in lost:
        batch.attempts += 1
        batch.lease_until, batch.due_at = None, now
        batch.last_error = "Steget avbröts (arbetaren försvann); görs om."
        session.add(batch)
    return len(lost)


def due_batches(session: Session, now: datetime, limit: int = 200) -> list[PushBatch]:
    """Batches to send or poll now, oldest first, not held by a live lease."""
    return list(
        session.exec(
            select(PushBatch)
            .where(
                PushBatch.status.in_(("new", "polling")),
                PushBatch.due_at <= now,
                or_(PushBatch.lease_until.is_(None), PushBatch.lease_until < now),
            )
            .order_by(PushBatch.id)
            .limit(limit)
        ).all()
    )


def claim(
    session: Session, batch_id: int, key: str, status: str, worker: str, now: datetime, timing: Timing
) -> PushBatch | None:
    """Take a due batch in ``status`` for one lease; None if another job has it or it is not due.

    A conditional UPDATE, so exactly one claim wins; a killed job's lease runs out and the next sweep
    gives the batch to another job (a re-sent bulk call is harmless: ``updateIfExists=true``).
    """
    result = session.execute(
        update(PushBatch)
        .where(
            PushBatch.id == batch_id,
            PushBatch.key == key,
            PushBatch.status == status,
            PushBatch.due_at <= now,
            or_(PushBatch.lease_until.is_(None), PushBatch.lease_until < now),
        )
        .values(lease_until=now + timedelta(seconds=timing.lease_seconds), claimed_by=worker[:255])
    )
    if result.rowcount != 1:
        session.rollback()
        return None
    session.commit()
    return session.get(PushBatch, batch_id, populate_existing=True)


def sent(session: Session, batch: PushBatch, job_id: str, status: int, now: datetime, timing: Timing) -> None:
    """Skolverket took the call (202): poll its job from now on."""
    batch.status, batch.job_id, batch.last_status, batch.last_error = "polling", job_id, status, ""
    batch.sent_at, batch.lease_until = now, None
    batch.due_at = now + timedelta(seconds=timing.poll_seconds)
    session.add(batch)
    _objects(session, batch).values(status="Pending", sent_at=now, sent_action=batch.action)


def _objects(session: Session, batch: PushBatch, ids: list[str] | None = None):
    class _Update:
        def values(self, **values) -> None:
            chosen = ids if ids is not None else batch.entity_ids
            for start_at in range(0, len(chosen), CHUNK):
                session.execute(
                    update(PushObject)
                    .where(
                        PushObject.resource == batch.resource,
                        PushObject.entity_id.in_(chosen[start_at : start_at + CHUNK]),
                        PushObject.batch_id == batch.id,
                    )
                    .values(**values)
                )

    return _Update()


def retry_later(
    session: Session, batch: PushBatch, now: datetime, wait: timedelta, error: str, status: int | None
) -> None:
    """Try the same step again after ``wait`` without counting an attempt (a rate-limit wait)."""
    batch.due_at, batch.lease_until, batch.last_error, batch.last_status = (
        now + wait,
        None,
        error[:2000],
        status,
    )
    session.add(batch)


def send_failed(
    session: Session, batch: PushBatch, error: str, status: int | None, now: datetime, timing: Timing
) -> None:
    """The call failed for now (503, timeout, no connection, no token): back off, or give up after 3 days."""
    batch.attempts += 1
    batch.last_error, batch.last_status, batch.lease_until = error[:2000], status, None
    if now - batch.created >= timing.give_up_after:
        _abandon(session, batch, now, error, give_up=True)
    else:
        batch.due_at = now + timing.backoff(batch.attempts)
    session.add(batch)


def _abandon(session: Session, batch: PushBatch, now: datetime, error: str, give_up: bool) -> None:
    """End a batch without answers: its objects are sent again later, or marked failed (``give_up``)."""
    batch.status, batch.finished_at, batch.body, batch.lease_until = "abandoned", now, "", None
    entry = _our_entry("Tillfälligt fel", error)
    if give_up:
        _objects(session, batch).values(
            batch_id=None, status="TemporaryError", failed=True, log_entries=[entry], answered_at=now
        )
    else:
        _objects(session, batch).values(batch_id=None, dirty=True, due_at=now)
    session.add(batch)


def _our_entry(message_type: str, message: str) -> dict:
    """A LogEntry of our own making (the call itself failed, so Skolverket said nothing per object)."""
    return {"id": "dnp", "messageType": message_type, "message": message[:500], "severityLevel": "Error"}


def refused(session: Session, batch: PushBatch, entries: list, status: int, now: datetime) -> None:
    """Skolverket refused the whole call (400 or an object too large on its own): each object gets it."""
    batch.status, batch.finished_at, batch.body, batch.lease_until = "abandoned", now, "", None
    batch.last_status = status
    logs = [e for e in entries if isinstance(e, dict)] or [_our_entry("Okänt fel", f"HTTP {status}")]
    batch.last_error = "; ".join(str(e.get("message", "")) for e in logs)[:2000]
    _objects(session, batch).values(batch_id=None, status="Error", log_entries=logs, answered_at=now)
    session.add(batch)


def split(session: Session, batch: PushBatch, now: datetime) -> list[int]:
    """413: send the objects again in two halves (each body about half the size)."""
    data = json.loads(batch.body)["data"]
    half = len(data) // 2
    made = []
    for part in (data[:half], data[half:]):
        items = []
        for body in part:
            entity_id = body if batch.action == "delete" else body["id"]
            items.append(_Item(entity_id, body, batch.items.get(entity_id, {}).get("left_out", [])))
        new_id = store_batch(session, batch.resource, batch.action, items, now)
        made.append(new_id)
        session.execute(
            update(PushObject)
            .where(
                PushObject.resource == batch.resource, PushObject.entity_id.in_([i.entity_id for i in items])
            )
            .values(batch_id=new_id)
        )
    batch.status, batch.finished_at, batch.body, batch.lease_until = "split", now, "", None
    batch.last_status = 413
    session.add(batch)
    return made


def still_pending(session: Session, batch: PushBatch, now: datetime, timing: Timing) -> None:
    """The job is not done yet: poll again, or after the pending limit send its objects again."""
    batch.polls += 1
    batch.lease_until = None
    if batch.sent_at is not None and now - batch.sent_at >= timing.pending_limit:
        _abandon(session, batch, now, "Skolverket svarade inte inom tidsgränsen (Pending).", give_up=False)
        return
    batch.due_at = now + timedelta(seconds=timing.poll_seconds)
    session.add(batch)


def record_answers(
    session: Session, batch: PushBatch, responses: list, now: datetime, timing: Timing
) -> None:
    """Store every object's answer (and its history); retry temporary ones; wake what waited on them."""
    answers = {}
    for entry in responses if isinstance(responses, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("response"), dict):
            answers[str(entry.get("id"))] = entry["response"]
    objects = {
        o.entity_id: o
        for o in session.exec(
            select(PushObject).where(PushObject.resource == batch.resource, PushObject.batch_id == batch.id)
        ).all()
    }
    history = []
    accepted: list[str] = []
    for entity_id in batch.entity_ids:
        answer = answers.get(entity_id) or {"status": "Pending"}
        status = str(answer.get("status") or "Pending")
        logs = [
            e for e in (answer.get("errors") or []) + (answer.get("warnings") or []) if isinstance(e, dict)
        ]
        history.append(
            {"batch_id": batch.id, "resource": batch.resource, "entity_id": entity_id, "status": status,
             "log_entries": logs, "at": now}
        )  # fmt: skip
        obj = objects.get(entity_id)
        if obj is None:
            continue  # deleted meanwhile (a resend or a sync took it over)
        obj.batch_id, obj.status, obj.log_entries = None, status, logs
        item = batch.items.get(entity_id, {})
        if status in ACCEPTED:
            obj.answered_at, obj.attempts, obj.trying_since, obj.failed = now, 0, None, False
            obj.sent_hash = item.get("hash", "")
            if batch.action == "delete":
                obj.remote = False
                if not obj.dirty:
                    session.delete(obj)
                    continue
            else:
                obj.remote = True
                accepted.append(entity_id)
                left_out = set(item.get("left_out", [])) | _missing_in(logs)
                obj.left_out, obj.incomplete = sorted(left_out), bool(left_out)
        elif status == "Error":
            obj.answered_at, obj.attempts, obj.trying_since = now, 0, None
            obj.sent_hash = item.get("hash", "")
        else:  # TemporaryError, or still Pending although the job is complete
            if status == "TemporaryError":
                obj.answered_at = now
            obj.attempts += 1
            obj.trying_since = obj.trying_since or batch.sent_at or now
            if now - obj.trying_since >= timing.give_up_after:
                obj.failed, obj.dirty = True, False
            else:
                obj.dirty, obj.due_at = True, now + timing.backoff(obj.attempts)
        session.add(obj)
    if history:
        session.execute(insert(PushAnswer.__table__), history)
    batch.status, batch.finished_at, batch.body, batch.lease_until = "done", now, "", None
    session.add(batch)
    session.flush()
    if batch.action == "upsert" and accepted and batch.resource in ("Person", "Duty"):
        wake_incomplete(session, "Group" if batch.resource == "Person" else "Activity", set(accepted), now)
    if batch.action == "upsert" and batch.resource in ("Group", "Activity"):
        # Members (teachers) accepted while this call was in flight woke nothing: send again now.
        _wake_if_caught_up(session, batch.resource, [objects[i] for i in accepted if i in objects], now)


def _missing_in(logs: list[dict]) -> set[str]:
    """Members a Group was accepted without (Skolverket's Warning names them in ``attributeValue``)."""
    found = set()
    for entry in logs:
        if entry.get("severityLevel") == "Warning" and "groupMemberships" in str(
            entry.get("attributeName", "")
        ):
            value = str(entry.get("attributeValue") or "")
            if len(value) == 36:
                found.add(value)
    return found


def _wake_if_caught_up(session: Session, resource: str, sent: list[PushObject], now: datetime) -> None:
    kind = "Person" if resource == "Group" else "Duty"
    refs = {kind: {ref for o in sent for ref in o.left_out or []}}
    known = _states(session, refs)
    woken = [
        o.entity_id for o in sent if any(known.get((kind, ref), (False, False))[0] for ref in o.left_out)
    ]
    if woken:
        mark_dirty(session, resource, woken, now)


def wake_incomplete(session: Session, resource: str, accepted: set[str], now: datetime) -> int:
    """Groups (or Activities) sent without some members (teachers) now accepted: send them again."""
    waiting = session.exec(
        select(PushObject).where(PushObject.resource == resource, PushObject.incomplete.is_(True))
    ).all()
    woken = [o.entity_id for o in waiting if accepted & set(o.left_out or [])]
    if woken:
        mark_dirty(session, resource, woken, now)
    return len(woken)
