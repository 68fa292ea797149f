"""Webhooks: subscriptions and the state of each delivery (the truth lives here; RQ only runs jobs)."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlmodel import Field
from sqlmodel import SQLModel

from dnp.types import JSONType
from dnp.types import UTCDateTime
from dnp.types import one_of
from dnp.types import utcnow


class DeliveryStatus(StrEnum):
    """Where a webhook delivery is; ``dead`` ones wait for an operator, ``cancelled`` ones are done with."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"


def new_job_key() -> str:
    """A random part of a delivery's RQ job ids, so they never repeat across database restores."""
    return secrets.token_hex(8)

class Subscription(SQLModel, table=True):
    """A webhook subscription that Skolverket's client registered through ``POST /subscriptions``."""

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    name: str = Field(max_length=255)
    target: str = Field(max_length=2000, unique=True)
    resource_types: list[str] = Field(default_factory=list, sa_column=Column(JSONType))
    expires: datetime = Field(sa_type=UTCDateTime)
    caller: str = Field(default="", max_length=255)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    modified: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """One webhook to one subscription, announcing outbox rows with ids in (first_outbox_id, last_outbox_id].

    On PostgreSQL ids are not in commit order, so the range may also hold rows an earlier or later
    delivery announces (re-stamping them once more is harmless).

    Per subscription at most one is ``pending`` (later changes merge into it) and one
    ``in_flight``; a pending one waits while another is in flight, so they go out in order.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        Index("ix_delivery_due", "status", "next_attempt_at"),
        Index("ix_delivery_subscription_status", "subscription_id", "status"),
        one_of("delivery", "status", DeliveryStatus),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: str = Field(
        sa_column=Column(String(36), ForeignKey("subscription.id", ondelete="CASCADE"), nullable=False)
    )
    status: str = Field(default=DeliveryStatus.PENDING, max_length=10)
    # Job ids are ``delivery-{id}-{job_key}-{attempts}``: ids alone repeat after a restore or reset
    # while Redis keeps the old jobs; a new key is drawn when a dead delivery is revived.
    job_key: str = Field(default_factory=new_job_key, max_length=16)
    resources: list[str] = Field(default_factory=list, sa_column=Column(JSONType))
    deletions: bool = False
    first_outbox_id: int = 0
    last_outbox_id: int = 0
    first_change_at: datetime = Field(sa_type=UTCDateTime)
    trying_since: datetime = Field(sa_type=UTCDateTime)  # the give-up clock; reset by a requeue
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    attempts: int = 0
    in_flight_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str = Field(default="", max_length=255)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    last_status: int | None = None
    restamped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookCursor(SQLModel, table=True):
    """How far into the outbox a subscription's changes have been gathered: an ``outbox_reader.Position``.

    On SQLite the id of the last row; on PostgreSQL the snapshot of the last gather (which rows'
    transactions were complete), ``last_outbox_id`` then only telling the newest row seen. A
    PostgreSQL cursor without a snapshot (from before migration 0007e) still counts by id.
    """

    __tablename__ = "webhook_cursor"

    subscription_id: str = Field(
        sa_column=Column(String(36), ForeignKey("subscription.id", ondelete="CASCADE"), primary_key=True)
    )
    last_outbox_id: int = 0
    snapshot: str | None = Field(default=None, sa_column=Column(Text, nullable=True))

