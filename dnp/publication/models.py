"""The publication: what Skolverket may see, what left it, what changed, and who is told."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger
from sqlalchemy import Column
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlmodel import Field
from sqlmodel import SQLModel

from dnp.types import UTCDateTime
from dnp.types import current_transaction_id
from dnp.types import one_of
from dnp.types import utcnow


class Resource(StrEnum):
    """An SS 12000 resource type as the API and the outbox name it."""

    ORGANISATION = "Organisation"
    PERSON = "Person"
    GROUP = "Group"
    DUTY = "Duty"
    ACTIVITY = "Activity"


class Change(StrEnum):
    """What happened to a published entity (an outbox row)."""

    CREATED = "created"
    MODIFIED = "modified"
    DELETED = "deleted"


class PublishedEntity(SQLModel, table=True):
    """One exposed entity: its SS 12000 JSON, content hash and times.

    ``document`` is the compact JSON text exactly as the API serves it, ``meta`` included (last key),
    so pages stream without parsing anything; whoever changes ``created``/``modified`` rewrites its
    ``meta`` too (``publication_store``). ``content_hash`` covers the content without ``meta``.
    """

    __tablename__ = "published_entity"
    __table_args__ = (
        Index("ix_published_entity_modified", "resource", "modified"),
        one_of("published_entity", "resource", Resource),
    )

    resource: str = Field(sa_column=Column(String(12), primary_key=True))
    id: str = Field(sa_column=Column(String(36), primary_key=True))
    document: str = Field(sa_column=Column(Text, nullable=False))
    content_hash: str = Field(max_length=64)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    modified: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeletedEntity(SQLModel, table=True):
    """An entity that left the publication (served by ``/deletedEntities``)."""

    __tablename__ = "deleted_entity"
    __table_args__ = (
        Index("ix_deleted_entity_entity", "resource", "entity_id"),
        one_of("deleted_entity", "resource", Resource),
    )

    id: int | None = Field(default=None, primary_key=True)
    resource: str = Field(max_length=12)
    entity_id: str = Field(max_length=36)
    deleted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Outbox(SQLModel, table=True):
    """A publication change for the notifier: ``created``, ``modified`` or ``deleted``."""

    __tablename__ = "outbox"
    __table_args__ = (one_of("outbox", "resource", Resource), one_of("outbox", "change", Change))

    id: int | None = Field(default=None, primary_key=True)
    resource: str = Field(max_length=12)
    entity_id: str = Field(max_length=36)
    change: str = Field(max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # PostgreSQL: the writing transaction, set by the database (``outbox_reader`` reads by it, as ids
    # become visible out of order). NULL on SQLite, and on rows written before migration 0007e.
    txid: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, server_default=current_transaction_id(), nullable=True, index=True),
    )


class CentralSetting(SQLModel, table=True):
    """A setting that holds for every school unit (e.g. how protected persons are sent)."""

    __tablename__ = "central_setting"

    key: str = Field(sa_column=Column(String(60), primary_key=True))
    value: str = Field(max_length=255)
    changed_by: str = Field(default="", max_length=255)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
