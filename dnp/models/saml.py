"""SAML sign-in state kept on the server: open AuthnRequests and assertions already used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field
from sqlmodel import SQLModel

from dnp.models.types import UTCDateTime
from dnp.models.types import utcnow


class SamlRequest(SQLModel, table=True):
    """An AuthnRequest we sent, found again by the one-time RelayState token the IdP posts back."""

    __tablename__ = "saml_request"

    # SHA-256 of the RelayState token: a copy of the table does not hand out live tokens.
    token_hash: str = Field(primary_key=True, max_length=64)
    request_id: str = Field(max_length=128)
    next_path: str = Field(default="/", sa_type=Text)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    consumed: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UsedAssertion(SQLModel, table=True):
    """An assertion that has signed someone in; the primary key refuses a replay."""

    __tablename__ = "saml_used_assertion"

    assertion_id: str = Field(primary_key=True, max_length=255)
    expires: datetime = Field(sa_type=UTCDateTime, index=True)
