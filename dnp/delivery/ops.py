"""What on-call staff need about webhook delivery: backlog, failures, dead letters (no personal data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select

from dnp.audit import trail
from dnp.delivery import attempts
from dnp.delivery import outbox
from dnp.delivery.models import Delivery
from dnp.delivery.models import Subscription
from dnp.delivery.models import WebhookCursor
from dnp.types import utcnow


@dataclass
class Backlog:
    """Counts of the delivery pipeline."""

    outbox_waiting: int
    pending: int
    in_flight: int
    failing: int
    dead: int
    delivered: int
    oldest_pending: datetime | None


@dataclass
class DeliveryRow:
    """One delivery as operators see it."""

    delivery: Delivery
    subscription: str
    target_host: str


def backlog(session: Session) -> Backlog:
    """Outbox rows not yet gathered (for the live subscription furthest behind), and deliveries by state."""
    end = outbox.end(session)
    cursors = session.exec(
        select(WebhookCursor.last_outbox_id, WebhookCursor.snapshot)
        .join(Subscription, Subscription.id == WebhookCursor.subscription_id)
        .where(Subscription.expires > utcnow())
    ).all()
    waiting = 0
    for last_id, snapshot in cursors:
        since = outbox.Position(last_id, snapshot)
        behind = session.exec(select(func.count()).where(outbox.between(since, end))).one()
        waiting = max(waiting, behind)
    counts = dict(session.exec(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    failing = session.exec(
        select(func.count()).where(Delivery.status == "pending", Delivery.attempts > 0)
    ).one()
    oldest = session.exec(
        select(func.min(Delivery.first_change_at)).where(Delivery.status == "pending")
    ).one()
    return Backlog(
        outbox_waiting=waiting,
        pending=counts.get("pending", 0),
        in_flight=counts.get("in_flight", 0),
        failing=failing,
        dead=counts.get("dead", 0),
        delivered=counts.get("delivered", 0),
        oldest_pending=oldest,
    )


def troubled(session: Session, limit: int = 50) -> list[DeliveryRow]:
    """Deliveries failing or dead (newest first), with the subscription they are for."""
    failing = (Delivery.status == "dead") | (
        (Delivery.status.in_(("pending", "in_flight"))) & (Delivery.attempts > 0)
    )
    return _rows(session, limit, failing)


def recent(session: Session, limit: int = 20) -> list[DeliveryRow]:
    """The latest deliveries of any state."""
    return _rows(session, limit)


def _rows(session: Session, limit: int, *conditions) -> list[DeliveryRow]:
    """Newest deliveries meeting ``conditions``, each with its subscription's name and host."""
    rows = session.exec(
        select(Delivery, Subscription)
        .join(Subscription, Subscription.id == Delivery.subscription_id)
        .where(*conditions)
        .order_by(Delivery.id.desc())
        .limit(limit)
    ).all()
    return [
        DeliveryRow(delivery, subscription.name, urlsplit(subscription.target).netloc)
        for delivery, subscription in rows
    ]


def last_delivered(session: Session) -> dict[str, datetime]:
    """When each subscription last got a webhook through."""
    return dict(
        session.exec(
            select(Delivery.subscription_id, func.max(Delivery.delivered_at))
            .where(Delivery.status == "delivered")
            .group_by(Delivery.subscription_id)
        ).all()
    )


def requeue_dead(actor: str, delivery_id: int | None, now: datetime, *, session: Session) -> int:
    """Give one dead delivery (or all, with None) a fresh three days of attempts, audited as ``actor``'s.

    Returns how many went back; the caller commits.
    """
    count = attempts.requeue_dead(session, now, delivery_id)
    target = str(delivery_id) if delivery_id is not None else "*"
    trail.record(session, actor, "ops.deliveries_requeued", "Delivery", target, after={"count": count})
    return count
