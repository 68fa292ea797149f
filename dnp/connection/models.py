"""Our side of the connection to Skolverket: the client certificate and the outcome of each token fetch."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlalchemy import Text
from sqlalchemy import false as sa_false
from sqlmodel import Field
from sqlmodel import SQLModel

from dnp.types import UTCDateTime
from dnp.types import one_of
from dnp.types import utcnow


class CredentialSource(StrEnum):
    """Where our client certificate came from."""

    GENERATED = "generated"
    UPLOADED = "uploaded"


class ClientCredential(SQLModel, table=True):
    """Our client certificate for mutual TLS (the key is encrypted with a key derived from the secret key)."""

    __tablename__ = "client_credential"
    __table_args__ = (one_of("client_credential", "source", CredentialSource),)

    id: int | None = Field(default=None, primary_key=True)
    cert_pem: str = Field(sa_column=Column(Text, nullable=False))
    key_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(max_length=20)
    active: bool = True
    # Stored while a certificate is in use, not yet tested and activated by an administrator.
    pending: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    created_by: str = Field(max_length=255)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

class ConnectionCheck(SQLModel, table=True):
    """The outcome of fetching our token (the settings page's "test connection", and deliveries)."""

    __tablename__ = "connection_check"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    ok: bool
    message: str = Field(sa_column=Column(Text, nullable=False))
    checked_by: str = Field(default="", max_length=255)

