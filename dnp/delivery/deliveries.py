"""Turning outbox rows into ordered, coalesced deliveries per subscription, and their life cycle."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import update
from sqlalchemy.orm import aliased
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery import outbox
from dnp.delivery.models import Delivery
from dnp.delivery.models import Subscription
from dnp.delivery.models import WebhookCursor
from dnp.delivery.models import new_job_key
from dnp.publication.models import Outbox

log = logging.getLogger(__name__)
# Skolverket's order of resource types in a webhook body.
RESOURCE_ORDER = ("Organisation", "Person", "Group", "Duty", "Activity")
# Seconds to wait after the n-th failed attempt; after the last, hourly, until the give-up age.
BACKOFF = (10, 30, 60, 300, 900, 3600)
GIVE_UP_AFTER = timedelta(days=3)
# Skolverket's client looks 5 minutes back from receipt; re-stamp what is older than this.
RESTAMP_AFTER = timedelta(minutes=4)


@dataclass(frozen=True)
class Timing:
    """Delivery timing; ``scale`` < 1 makes days pass in seconds (tests, benchmarks)."""

    coalesce_seconds: float = 5
    scale: float = 1.0
    stuck_after_seconds: float = 75  # a claim older than the HTTP timeout plus margin was lost
    restamp_after_seconds: float = RESTAMP_AFTER.total_seconds()

    @property
    def restamp_after(self) -> timedelta:
        """A delivery later than this after its first change re-stamps before sending (rule 5)."""
        return timedelta(seconds=self.restamp_after_seconds)

    def backoff(self, attempts: int) -> timedelta:
        """Wait before the next attempt, after ``attempts`` failed ones."""
        seconds = BACKOFF[min(attempts, len(BACKOFF)) - 1] if attempts else 0
        return timedelta(seconds=seconds * self.scale)

    @property
    def give_up_after(self) -> timedelta:
        """How long to keep trying before a delivery is dead."""
        return GIVE_UP_AFTER * self.scale


def body_for(delivery: Delivery) -> dict:
    """The webhook body, with both spellings Skolverket's code and spec use."""
    modified = [name for name in RESOURCE_ORDER if name in delivery.resources]
    return {
        "modifiedEntities": modified,
        "modifiedEntites": modified,
        "deletedEntities": bool(delivery.deletions),
    }


def _start_since(session: Session, subscription: Subscription) -> outbox.Position:
    """A position that announces every outbox row written since the subscription was made.

    For subscriptions stored before cursors were recorded with them (or stored without the service):
    a few rows from the very moment of creation may be announced twice, which costs one extra pull,
    while a skipped one would be lost.
    """
    before = session.exec(select(func.max(Outbox.id)).where(Outbox.created_at < subscription.created)).one()
    return outbox.Position(before or 0)


def _position(cursor: WebhookCursor) -> outbox.Position:
    return outbox.Position(cursor.last_outbox_id, cursor.snapshot)


def _store(cursor: WebhookCursor, position: outbox.Position) -> None:
    cursor.last_outbox_id, cursor.snapshot = position.last_id, position.snapshot


def open_cursor(session: Session, subscription: Subscription, *, restart: bool) -> WebhookCursor:
    """Record where a subscription's announcements start, in the transaction that creates or renews it.

    ``restart`` (a new subscription, or one renewed after it had expired): start at the outbox's end
    as this transaction sees it (on PostgreSQL its snapshot), so every change whose transaction was
    not complete by then is announced – every change committed after the 201, and perhaps one
    committed an instant before it – and nothing complete before is replayed. Otherwise (a live
    subscription renewed) the cursor stays where it is: a renewal neither skips nor replays a change.
    A live subscription without a cursor gets one covering its whole life.
    """
    cursor = session.exec(
        select(WebhookCursor).where(WebhookCursor.subscription_id == subscription.id).with_for_update()
    ).first()
    if cursor is None:
        cursor = WebhookCursor(subscription_id=subscription.id)
        _store(cursor, outbox.end(session) if restart else _start_since(session, subscription))
    elif restart:
        _store(cursor, outbox.end(session))
    session.add(cursor)
    return cursor


def gather(session: Session, now: datetime, timing: Timing) -> int:
    """Fold new outbox rows into each live subscription's pending delivery; returns deliveries touched.

    The cursor rows are locked (PostgreSQL) so two sweepers never gather the same rows twice; the
    end of each read is taken after the lock, so it is never older than the cursor it follows.
    """
    touched = 0
    subscriptions = session.exec(select(Subscription).where(Subscription.expires > now)).all()
    for subscription in subscriptions:
        cursor = session.exec(
            select(WebhookCursor).where(WebhookCursor.subscription_id == subscription.id).with_for_update()
        ).first()
        if cursor is None:
            # Cursors are recorded with the subscription; one stored otherwise must not lose its
            # first changes either, so it starts where it was created, not at this sweep.
            cursor = WebhookCursor(subscription_id=subscription.id)
            _store(cursor, _start_since(session, subscription))
            session.add(cursor)
        since, until = _position(cursor), outbox.end(session)
        groups = session.exec(
            select(
                Outbox.resource,
                Outbox.change,
                func.min(Outbox.id),
                func.max(Outbox.id),
                func.min(Outbox.created_at),
            )
            .where(outbox.between(since, until))
            .group_by(Outbox.resource, Outbox.change)
        ).all()
        restored = outbox.went_back(since, until)
        if restored:
            log.warning(
                "subscription %s: outbox transaction ids went back (restored?); read by id", subscription.id
            )
        by_id = since.snapshot is None and until.snapshot is not None  # from before migration 0007e
        if not groups and not restored and not by_id:
            continue  # nothing in between: the next read from the same cursor covers the same rows
        rows = [group for group in groups if group[0] in subscription.resource_types]
        if rows:
            touched += 1
            _merge(session, subscription.id, rows, timing)
        _store(cursor, until)
        session.add(cursor)
    return touched


def _merge(session: Session, subscription_id: str, rows, timing: Timing) -> None:
    resources = {resource for resource, change, *_ in rows if change != "deleted"}
    deletions = any(change == "deleted" for _, change, *_ in rows)
    first = min(lowest for _, _, lowest, _, _ in rows) - 1
    last = max(highest for _, _, _, highest, _ in rows)
    earliest = min(at for *_, at in rows)
    pending = session.exec(
        select(Delivery).where(Delivery.subscription_id == subscription_id, Delivery.status == "pending")
    ).first()
    if pending is None:
        pending = Delivery(
            subscription_id=subscription_id,
            first_outbox_id=first,
            last_outbox_id=last,
            first_change_at=earliest,
            trying_since=earliest,
            next_attempt_at=earliest + timedelta(seconds=timing.coalesce_seconds),
        )
    pending.resources = sorted(set(pending.resources) | resources)
    pending.deletions = pending.deletions or deletions
    # On PostgreSQL a later gather may bring lower ids (transactions commit out of id order).
    pending.first_outbox_id = min(pending.first_outbox_id, first)
    pending.last_outbox_id = max(pending.last_outbox_id, last)
    session.add(pending)


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
    other; everywhere: a conditional UPDATE, so exactly one claim wins.
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
    session.commit()
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
