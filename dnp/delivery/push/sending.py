"""Push sending: a batch claimed by one job for a lease, and what became of its call.

``claim`` gives a batch to one job; ``sent`` / ``send_failed`` / ``retry_later`` / ``split`` / ``refused``
record a send, ``still_pending`` a poll whose job is not done. None of them commits: the job does.
"""

from __future__ import annotations

import json
from datetime import datetime
from datetime import timedelta

from sqlalchemy import or_
from sqlalchemy import update
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery.push.models import CHUNK
from dnp.delivery.push.models import PushBatch
from dnp.delivery.push.models import PushObject
from dnp.delivery.push.order import Item
from dnp.delivery.push.planning import store_batch
from dnp.delivery.push.timing import Timing


def release_lost(now: datetime, *, session: Session) -> int:
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


def due_batches(now: datetime, limit: int = 200, *, session: Session) -> list[PushBatch]:
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
    batch_id: int, key: str, status: str, worker: str, now: datetime, timing: Timing, *, session: Session
) -> PushBatch | None:
    """Take a due batch in ``status`` for one lease; None if another job has it or it is not due.

    The caller commits at once, so the lease holds while the call is made (outside any transaction).

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
        return None
    return session.get(PushBatch, batch_id, populate_existing=True)


def sent(
    batch: PushBatch, job_id: str, status: int, now: datetime, timing: Timing, *, session: Session
) -> None:
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
    batch: PushBatch, now: datetime, wait: timedelta, error: str, status: int | None, *, session: Session
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
    batch: PushBatch, error: str, status: int | None, now: datetime, timing: Timing, *, session: Session
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


def refused(batch: PushBatch, entries: list, status: int, now: datetime, *, session: Session) -> None:
    """Skolverket refused the whole call (400 or an object too large on its own): each object gets it."""
    batch.status, batch.finished_at, batch.body, batch.lease_until = "abandoned", now, "", None
    batch.last_status = status
    logs = [e for e in entries if isinstance(e, dict)] or [_our_entry("Okänt fel", f"HTTP {status}")]
    batch.last_error = "; ".join(str(e.get("message", "")) for e in logs)[:2000]
    _objects(session, batch).values(batch_id=None, status="Error", log_entries=logs, answered_at=now)
    session.add(batch)


def split(batch: PushBatch, now: datetime, *, session: Session) -> list[int]:
    """413: send the objects again in two halves (each body about half the size)."""
    data = json.loads(batch.body)["data"]
    half = len(data) // 2
    made = []
    for part in (data[:half], data[half:]):
        items = []
        for body in part:
            entity_id = body if batch.action == "delete" else body["id"]
            items.append(Item(entity_id, body, batch.items.get(entity_id, {}).get("left_out", [])))
        new_id = store_batch(batch.resource, batch.action, items, now, session=session)
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


def poll_failed(
    batch: PushBatch, error: str, status: int | None, now: datetime, timing: Timing, *, session: Session
) -> None:
    """Asking after Skolverket's job failed (503, timeout, no token): ask again after a back-off."""
    batch.attempts += 1
    batch.last_error, batch.last_status, batch.lease_until = error[:2000], status, None
    batch.due_at = now + timing.backoff(batch.attempts)
    session.add(batch)


def still_pending(batch: PushBatch, now: datetime, timing: Timing, *, session: Session) -> None:
    """The job is not done yet: poll again, or after the pending limit send its objects again."""
    batch.polls += 1
    batch.lease_until = None
    if batch.sent_at is not None and now - batch.sent_at >= timing.pending_limit:
        _abandon(session, batch, now, "Skolverket svarade inte inom tidsgränsen (Pending).", give_up=False)
        return
    batch.due_at = now + timedelta(seconds=timing.poll_seconds)
    session.add(batch)


def job_unknown(batch: PushBatch, now: datetime, *, session: Session) -> None:
    """Skolverket no longer knows the job (404): its objects are sent again."""
    batch.polls += 1
    _abandon(session, batch, now, "Skolverket kände inte längre till jobbet; skickas igen.", give_up=False)
