"""Who may do what: role grants by EPPN, server-side login sessions and SAML sign-in state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlmodel import Field
from sqlmodel import SQLModel

from dnp.types import UTCDateTime
from dnp.types import one_of
from dnp.types import utcnow


class Role(StrEnum):
    """A role that can be granted; a school-unit administrator's grant names the unit."""

    CENTRAL_ADMIN = "central_admin"
    UNIT_ADMIN = "unit_admin"
    OPERATOR = "operator"


class LoginMethod(StrEnum):
    """How someone signed in: through the IdP, or the development login (never in production)."""

    SAML = "saml"
    DEV = "dev"


class RoleGrant(SQLModel, table=True):
    """A role given to an EPPN; school-unit administrators get one grant per unit."""

    __tablename__ = "role_grant"
    __table_args__ = (
        UniqueConstraint("eppn", "role", "school_unit_id", name="uq_role_grant"),
        one_of("role_grant", "role", Role),
    )

    id: int | None = Field(default=None, primary_key=True)
    eppn: str = Field(max_length=255, index=True)
    role: str = Field(max_length=20)
    school_unit_id: str | None = Field(
        default=None,
        sa_column=Column(String(36), ForeignKey("organisation.id", ondelete="CASCADE"), nullable=True),
    )
    granted_by: str = Field(max_length=255)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserAccount(SQLModel, table=True):
    """Someone who has signed in at least once (display name from the IdP or the register)."""

    __tablename__ = "user_account"

    eppn: str = Field(primary_key=True, max_length=255)
    display_name: str = ""
    first_login: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LoginSession(SQLModel, table=True):
    """A server-side session: logout or a timeout ends it whatever the cookie says."""

    __tablename__ = "login_session"
    __table_args__ = (one_of("login_session", "method", LoginMethod),)

    id: str = Field(primary_key=True, max_length=64)
    eppn: str = Field(max_length=255, index=True)
    method: str = Field(max_length=20)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended: datetime | None = Field(default=None, sa_type=UTCDateTime)


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
