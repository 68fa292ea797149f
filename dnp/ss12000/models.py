"""What Skolverket's client did and told us: API calls, log entries and statistics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlalchemy import Text
from sqlmodel import Field
from sqlmodel import SQLModel

from dnp.types import UTCDateTime
from dnp.types import utcnow


class ApiCall(SQLModel, table=True):
    """One authenticated call to the SS 12000 API: who, which endpoint, how many entities."""

    __tablename__ = "api_call"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    caller: str = Field(default="", max_length=255)
    organization_id: str = Field(default="", max_length=40)
    method: str = Field(max_length=8)
    endpoint: str = Field(max_length=40, index=True)
    status: int = 200
    count: int = 0
    milliseconds: int = 0


class FeedbackLog(SQLModel, table=True):
    """A ``POST /log`` entry: an error or warning Skolverket's client reports (plain text, never HTML)."""

    __tablename__ = "feedback_log"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    caller: str = Field(default="", max_length=255)
    severity_level: str = Field(max_length=10)
    message: str = Field(sa_column=Column(Text, nullable=False))
    message_type: str | None = Field(default=None, max_length=255)
    resource_type: str | None = Field(default=None, max_length=60)
    resource_id: str | None = Field(default=None, max_length=255, index=True)
    resource_url: str | None = Field(default=None, max_length=2000)
    time_of_occurance: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FeedbackStatistics(SQLModel, table=True):
    """A ``POST /statistics`` entry: how many entities Skolverket's client created, updated, deleted."""

    __tablename__ = "feedback_statistics"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    caller: str = Field(default="", max_length=255)
    resource_type: str = Field(max_length=60)
    new_count: int = 0
    updated_count: int = 0
    deleted_count: int = 0
    resource_url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=2000)
    time_of_occurance: datetime | None = Field(default=None, sa_type=UTCDateTime)
