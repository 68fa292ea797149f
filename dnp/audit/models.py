"""The append-only audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlalchemy import Index
from sqlmodel import Field
from sqlmodel import SQLModel

from dnp.types import JSONType
from dnp.types import UTCDateTime
from dnp.types import utcnow


class AuditEvent(SQLModel, table=True):
    """One audited action: who, when, what (entity and id), before and after."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=255, index=True)
    action: str = Field(max_length=60)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(default="", max_length=64)
    before: dict | None = Field(default=None, sa_column=Column(JSONType))
    after: dict | None = Field(default=None, sa_column=Column(JSONType))
