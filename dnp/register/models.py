"""The school register: SS 12000 organisations, persons, enrolments, duties and groups."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import func
from sqlmodel import Field
from sqlmodel import SQLModel

from dnp.types import JSONType
from dnp.types import UTCDateTime
from dnp.types import one_of
from dnp.types import utcnow


class OrganisationType(StrEnum):
    """The SS 12000 organisation types Skolverket's DNP subset takes."""

    HUVUDMAN = "Huvudman"
    SKOLENHET = "Skolenhet"


def skolverket_id(code: str) -> str:
    """Skolverket's id for a school unit code, organisation number or activity name."""
    return str(uuid.uuid5(uuid.UUID(int=0), code))


def _fk(target: str, ondelete: str | None = None, nullable: bool = False, index: bool = True):
    return Field(
        sa_column=Column(String(36), ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)
    )


class Organisation(SQLModel, table=True):
    """A huvudman or a school unit (skolenhet)."""

    __table_args__ = (one_of("organisation", "organisation_type", OrganisationType),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    organisation_type: str = Field(default=OrganisationType.SKOLENHET, max_length=20)
    display_name: str
    school_unit_code: str | None = Field(default=None, max_length=8, unique=True)
    organisation_number: str | None = Field(default=None, max_length=20)
    school_types: list[str] = Field(default_factory=list, sa_column=Column(JSONType))
    parent_id: str | None = _fk("organisation.id", ondelete="SET NULL", nullable=True)
    source_hash: str = Field(default="", max_length=64)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    modified: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def skolverket_id(self) -> str:
        """The id Skolverket knows this unit (or huvudman) by."""
        return organisation_ref(self)


def organisation_ref(organisation) -> str:
    """Skolverket's id of an organisation given as an object or a plain row (code, number, id)."""
    if organisation.school_unit_code:
        return skolverket_id(organisation.school_unit_code)
    return skolverket_id(organisation.organisation_number or organisation.id)


class Person(SQLModel, table=True):
    """A pupil or a member of staff."""

    __table_args__ = (Index("ix_person_names", "family_name", "given_name"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    given_name: str
    middle_name: str | None = None
    family_name: str
    eppn: str | None = Field(default=None, unique=True)
    civic_no: str = Field(max_length=20)  # never looked up by: no index (a large import writes less)
    civic_nationality: str | None = Field(default=None, max_length=10)
    security_marking: str = Field(default="Ingen", max_length=30)
    alias_given_name: str | None = None
    alias_family_name: str | None = None
    emails: list[dict] = Field(default_factory=list, sa_column=Column(JSONType))
    external_identifiers: list[dict] = Field(default_factory=list, sa_column=Column(JSONType))
    source_hash: str = Field(default="", max_length=64)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    modified: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def is_protected(self) -> bool:
        """True when the population register marks the person as protected."""
        return self.security_marking != "Ingen"


# Signing in and the access page look persons up by EPPN in any letter case.
Index("ix_person_eppn_lower", func.lower(Person.__table__.c.eppn))


class Enrolment(SQLModel, table=True):
    """A person's enrolment at a school unit."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = _fk("person.id", ondelete="CASCADE")
    school_unit_id: str = _fk("organisation.id")
    school_type: str = Field(max_length=10)
    school_year: int | None = None
    education_code: str | None = None
    programme_id: str | None = Field(default=None, max_length=36)
    specification: str | None = None
    cancelled: bool = False


class Duty(SQLModel, table=True):
    """A member of staff's role at a school unit."""

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    person_id: str = _fk("person.id", ondelete="CASCADE")
    school_unit_id: str = _fk("organisation.id")
    duty_role: str = Field(max_length=40)
    source_hash: str = Field(default="", max_length=64)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    modified: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RegisterGroup(SQLModel, table=True):
    """A class (Klass) or teaching group (Undervisning) as the school's register has it."""

    __tablename__ = "register_group"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    display_name: str
    group_type: str = Field(max_length=20)
    school_type: str = Field(max_length=10)
    school_unit_id: str = _fk("organisation.id")
    source_hash: str = Field(default="", max_length=64)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    modified: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RegisterGroupMembership(SQLModel, table=True):
    """A person's membership in a register group."""

    __tablename__ = "register_group_membership"

    group_id: str = Field(
        sa_column=Column(String(36), ForeignKey("register_group.id", ondelete="CASCADE"), primary_key=True)
    )
    person_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )
