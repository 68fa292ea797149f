"""Push state: where the push pipeline is in the outbox, each object's last answer, and each bulk call.

The truth lives here; RQ only runs the jobs (as for webhooks): a lost job, a killed worker or a Redis
outage only delays the work, the sweeper finds it again.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlmodel import Field
from sqlmodel import SQLModel

from dnp.types import JSONType
from dnp.types import UTCDateTime
from dnp.types import one_of
from dnp.types import utcnow


class PushStatus(StrEnum):
    """Skolverket's per-object statuses (transfer-methods.md §4.2); a never answered object has ``""``.

    The columns holding them have no CHECK: they store what Skolverket answers, and an answer we do not
    know yet must not make the poll's transaction fail (the pipeline retries it as temporary).
    """

    PENDING = "Pending"
    SUCCESS = "Success"
    WARNING = "Warning"
    ERROR = "Error"
    TEMPORARY_ERROR = "TemporaryError"


ACCEPTED = (PushStatus.SUCCESS, PushStatus.WARNING)


class BatchStatus(StrEnum):
    """Where a bulk call is: to send, being polled, answered, split in two, or given up."""

    NEW = "new"
    POLLING = "polling"
    DONE = "done"
    SPLIT = "split"
    ABANDONED = "abandoned"


class PushAction(StrEnum):
    """What a bulk call asks Skolverket to do with its objects."""

    UPSERT = "upsert"
    DELETE = "delete"
# Skolverket's order (transfer-methods.md §5.1); Organisations are not sent (Skolverket has them).
ORDER = ("Person", "Duty", "Group", "Activity")
PATHS = {"Person": "persons", "Duty": "duties", "Group": "groups", "Activity": "activities"}
# Ids per IN (...) list: well under every database's limit on bound parameters.
CHUNK = 500


def new_key() -> str:
    """A random part of a batch's RQ job ids, so they never repeat across database restores."""
    return secrets.token_hex(8)


class PushCursor(SQLModel, table=True):
    """How far into the outbox the push pipeline has read (an ``outbox_reader.Position``); one row."""

    __tablename__ = "push_cursor"

    id: int = Field(default=1, primary_key=True)
    last_outbox_id: int = 0
    snapshot: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PushObject(SQLModel, table=True):
    """One Person, Duty, Group or Activity as Skolverket knows it: what we last sent and what it answered.

    ``dirty`` means it must be sent (or deleted) again once ``due_at`` has come and its order rule
    allows; ``batch_id`` is the bulk call it is in now. ``remote`` is whether Skolverket holds it (an
    accepted create/update, no accepted delete since). ``left_out`` lists the members (Group) or
    teachers' duties (Activity) not carried in the last send because Skolverket did not hold them yet.
    """

    __tablename__ = "push_object"
    __table_args__ = (
        Index("ix_push_object_due", "dirty", "due_at"),
        Index("ix_push_object_batch", "batch_id"),
        Index("ix_push_object_status", "resource", "status"),
        one_of("push_object", "sent_action", PushAction, ""),
    )

    resource: str = Field(sa_column=Column(String(12), primary_key=True))
    entity_id: str = Field(sa_column=Column(String(36), primary_key=True))
    dirty: bool = True
    due_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    batch_id: int | None = None
    remote: bool = False
    sent_action: str = Field(default="", max_length=8)  # a PushAction, "" before the first send
    sent_hash: str = Field(default="", max_length=64)
    status: str = Field(default="", max_length=16)
    log_entries: list[dict] = Field(default_factory=list, sa_column=Column(JSONType))
    left_out: list[str] = Field(default_factory=list, sa_column=Column(JSONType))
    incomplete: bool = False  # left_out is not empty: sent again when more of them are accepted
    attempts: int = 0  # temporary failures in a row
    trying_since: datetime | None = Field(default=None, sa_type=UTCDateTime)  # the give-up clock
    failed: bool = False  # gave up after the retry time: shown on /ops until resent
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PushBatch(SQLModel, table=True):
    """One bulk call: its objects, Skolverket's job id, and where it is (to send, being polled, done)."""

    __tablename__ = "push_batch"
    __table_args__ = (
        Index("ix_push_batch_due", "status", "due_at"),
        one_of("push_batch", "status", BatchStatus),
        one_of("push_batch", "action", PushAction),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(default_factory=new_key, max_length=16)
    resource: str = Field(max_length=12)
    action: str = Field(max_length=8)
    status: str = Field(default=BatchStatus.NEW, max_length=10)
    entity_ids: list[str] = Field(default_factory=list, sa_column=Column(JSONType))
    # Per object: {"hash": of what was sent, "left_out": members or duties not carried}.
    items: dict[str, dict] = Field(default_factory=dict, sa_column=Column(JSONType))
    # The request body exactly as sent (and re-sent after a lost attempt); emptied once answered.
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    size: int = 0
    job_id: str = Field(default="", max_length=36)
    attempts: int = 0
    polls: int = 0
    due_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str = Field(default="", max_length=255)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    last_status: int | None = None
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PushAnswer(SQLModel, table=True):
    """Skolverket's answer about one object in one bulk job (the history behind ``PushObject``)."""

    __tablename__ = "push_answer"
    __table_args__ = (Index("ix_push_answer_entity", "resource", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(index=True)
    resource: str = Field(max_length=12)
    entity_id: str = Field(max_length=36)
    status: str = Field(max_length=16)
    log_entries: list[dict] = Field(default_factory=list, sa_column=Column(JSONType))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
