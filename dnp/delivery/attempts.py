"""A delivery's attempts: which are due, claiming one for a job, and recording how it went.

Gathering outbox rows into deliveries is in ``deliveries``; this is the life cycle that follows.
"""

from __future__ import annotations

import logging
from datetime import datetime
from datetime import timedelta

from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import update
from sqlalchemy.orm import aliased
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery.deliveries import Timing
from dnp.delivery.models import Delivery
from dnp.delivery.models import new_job_key

log = logging.getLogger(__name__)


def due(session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Pending deliveries whose time has come and whose subscription has nothing in flight."""
    return list(
        session.exec(
            select(Delivery.id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now, _nothing_in_flight())
            .order_by(Delivery.id)
            .limit(limit)
        ).all()
    )


def _nothing_in_flight():
    """True for a delivery whose subscription has no delivery in flight (one at a time per subscriber)."""
    busy = aliased(Delivery)
    return ~exists().where(and_(busy.subscription_id == Delivery.subscription_id, busy.status == "in_flight"))


def claim(
    session: Session, delivery_id: int, worker: str, now: datetime, job_key: str | None = None
) -> Delivery | None:
    """Take a due delivery for sending; None if another worker has it, it is not due, or is not pending.

    With ``job_key``, only the delivery the job was made for: after a database restore the same id
    may name another delivery. PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so workers never wait on each
    other; everywhere: a conditional UPDATE, so exactly one claim wins. The caller commits the claim
    before it sends, so other workers see the delivery in flight.
    """
    same_job = [Delivery.job_key == job_key] if job_key is not None else []
    candidate = session.exec(
        select(Delivery.id)
        .where(Delivery.id == delivery_id, Delivery.status == "pending", *same_job)
        .with_for_update(skip_locked=True)
    ).first()
    if candidate is None:
        return None
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == "pending",
            *same_job,
            Delivery.next_attempt_at <= now,
            _nothing_in_flight(),
        )
        .values(status="in_flight", in_flight_since=now, claimed_by=worker[:255])
    )
    if result.rowcount != 1:
        return None
    return session.get(Delivery, delivery_id, populate_existing=True)


def job_id(delivery_id: int, job_key: str, attempts: int) -> str:
    """The RQ job id of one attempt: unique per attempt, and across database restores."""
    return f"delivery-{delivery_id}-{job_key}-{attempts}"


def succeeded(session: Session, delivery: Delivery, status: int, now: datetime) -> None:
    """Any 2xx: delivered."""
    delivery.status, delivery.delivered_at, delivery.last_status = "delivered", now, status
    delivery.attempts += 1
    delivery.in_flight_since, delivery.last_error = None, ""
    session.add(delivery)


def failed(
    session: Session, delivery: Delivery, error: str, now: datetime, timing: Timing, status: int | None = None
) -> None:
    """Back to pending with a later attempt, or dead once tried for long enough."""
    delivery.attempts += 1
    delivery.last_error, delivery.last_status = error[:2000], status
    delivery.in_flight_since = None
    if now - delivery.trying_since >= timing.give_up_after:
        delivery.status = "dead"
    else:
        delivery.status = "pending"
        delivery.next_attempt_at = now + timing.backoff(delivery.attempts)
    session.add(delivery)


def give_up(session: Session, delivery: Delivery, status: str, error: str) -> None:
    """End a delivery without sending (expired subscription, target not allowed)."""
    delivery.status, delivery.last_error, delivery.in_flight_since = status, error, None
    session.add(delivery)


def release_stuck(session: Session, now: datetime, timing: Timing) -> int:
    """In-flight claims older than any attempt can take were lost (killed worker): send again."""
    cutoff = now - timedelta(seconds=timing.stuck_after_seconds)
    stuck = session.exec(
        select(Delivery).where(Delivery.status == "in_flight", Delivery.in_flight_since < cutoff)
    ).all()
    for delivery in stuck:
        # Counted as an attempt: the job id carries the attempt number, and RQ still holds the lost one.
        delivery.attempts += 1
        delivery.status, delivery.in_flight_since, delivery.next_attempt_at = "pending", None, now
        delivery.last_error = "Leveransen avbröts (arbetaren försvann); skickas igen."
        session.add(delivery)
    return len(stuck)


def requeue_dead(session: Session, now: datetime, delivery_id: int | None = None) -> int:
    """Give dead deliveries (one or all) a fresh three days; returns how many.

    If newer changes already wait in a pending delivery, the dead one is folded into it, so there
    is still at most one pending delivery per subscription.
    """
    query = select(Delivery).where(Delivery.status == "dead").order_by(Delivery.id)
    if delivery_id is not None:
        query = query.where(Delivery.id == delivery_id)
    revived = 0
    for dead in session.exec(query).all():
        pending = session.exec(
            select(Delivery).where(
                Delivery.subscription_id == dead.subscription_id, Delivery.status == "pending"
            )
        ).first()
        if pending is None:
            dead.status, dead.attempts, dead.next_attempt_at, dead.trying_since = "pending", 0, now, now
            dead.job_key = new_job_key()  # attempt 0 again: its old job ids may still be held by RQ
        else:
            pending.resources = sorted(set(pending.resources) | set(dead.resources))
            pending.deletions = pending.deletions or dead.deletions
            pending.first_outbox_id = min(pending.first_outbox_id, dead.first_outbox_id)
            pending.last_outbox_id = max(pending.last_outbox_id, dead.last_outbox_id)  # PostgreSQL: any order
            pending.first_change_at = min(pending.first_change_at, dead.first_change_at)
            pending.next_attempt_at, pending.trying_since = now, now
            dead.status, dead.last_error = "cancelled", f"Slogs ihop med leverans {pending.id}."
            session.add(pending)
        session.add(dead)
        revived += 1
    return revived
