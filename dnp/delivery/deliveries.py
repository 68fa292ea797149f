"""Turning outbox rows into ordered, coalesced deliveries per subscription, and their life cycle."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery import outbox
from dnp.delivery.models import Delivery
from dnp.delivery.models import DeliveryStatus
from dnp.delivery.models import Subscription
from dnp.delivery.models import WebhookCursor
from dnp.publication.models import Change
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


def timing_from_config(config: Mapping) -> Timing:
    """Delivery timing from ``DNP_WEBHOOK_COALESCE_SECONDS`` and ``DNP_WEBHOOK_TIME_SCALE``."""
    return Timing(
        coalesce_seconds=float(config["WEBHOOK_COALESCE_SECONDS"]),
        scale=float(config["WEBHOOK_TIME_SCALE"]),
        stuck_after_seconds=float(config["WEBHOOK_TIMEOUT"]) + 60 * float(config["WEBHOOK_TIME_SCALE"]) + 5,
        restamp_after_seconds=float(config["WEBHOOK_RESTAMP_AFTER"]),
    )


def body_for(delivery: Delivery) -> dict:
    """The webhook body, with both spellings Skolverket's code and spec use."""
    modified = [name for name in RESOURCE_ORDER if name in delivery.resources]
    return {
        "modifiedEntities": modified,
        "modifiedEntites": modified,
        "deletedEntities": bool(delivery.deletions),
    }


def _start_since(subscription: Subscription, *, session: Session) -> outbox.Position:
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


def open_cursor(subscription: Subscription, *, session: Session, restart: bool) -> WebhookCursor:
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
        _store(
            cursor, outbox.end(session=session) if restart else _start_since(subscription, session=session)
        )
    elif restart:
        _store(cursor, outbox.end(session=session))
    session.add(cursor)
    return cursor


def gather(now: datetime, timing: Timing, *, session: Session) -> int:
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
            _store(cursor, _start_since(subscription, session=session))
            session.add(cursor)
        since, until = _position(cursor), outbox.end(session=session)
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
            _merge(subscription.id, rows, timing, session=session)
        _store(cursor, until)
        session.add(cursor)
    return touched


def _merge(subscription_id: str, rows, timing: Timing, *, session: Session) -> None:
    resources = {resource for resource, change, *_ in rows if change != Change.DELETED}
    deletions = any(change == Change.DELETED for _, change, *_ in rows)
    first = min(lowest for _, _, lowest, _, _ in rows) - 1
    last = max(highest for _, _, _, highest, _ in rows)
    earliest = min(at for *_, at in rows)
    pending = session.exec(
        select(Delivery).where(
            Delivery.subscription_id == subscription_id, Delivery.status == DeliveryStatus.PENDING
        )
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
