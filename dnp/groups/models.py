"""National tests: the provaktivitet catalog, test occasions, test groups and their members."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlmodel import Field
from sqlmodel import SQLModel

from dnp.types import UTCDateTime
from dnp.types import one_of
from dnp.types import utcnow


class GroupStatus(StrEnum):
    """Where a test group is: being built, sent to Skolverket, or taken back after being sent."""

    DRAFT = "draft"
    READY = "ready"
    WITHDRAWN = "withdrawn"


class MemberRole(StrEnum):
    """What a member is in a test group."""

    PUPIL = "pupil"
    STAFF = "staff"


class MemberOrigin(StrEnum):
    """How a member got into a test group: following a source class, or added by hand."""

    REGISTER = "register"
    MANUAL = "manual"


class TaskKind(StrEnum):
    """What a background task does."""

    CATALOG_REFRESH = "catalog_refresh"
    BULK_CREATE = "bulk_create"


class TaskStatus(StrEnum):
    """Where a background task is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# Namespace for ids we derive from test group ids (the published Activity id).
ACTIVITY_NAMESPACE = uuid.UUID("6f1c2b0e-6d1a-4c55-9d55-1d0a4f3b8e21")


def _fk(target: str, ondelete: str | None = None, nullable: bool = False, index: bool = True, **kw):
    column = Column(String(36), ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index, **kw)
    return Field(sa_column=column)


class TestActivity(SQLModel, table=True):
    """A provaktivitet from Skolverket's open-data catalog (e.g. MATMAT01c, or MA åk 9)."""

    __test__ = False  # not a pytest test class

    __tablename__ = "test_activity"

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    display_name: str = Field(max_length=100, index=True)
    school_type: str = Field(max_length=10)
    school_year: int | None = None
    comment: str | None = None
    source: str = Field(default="skolverket", max_length=20)
    fetched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TestOccasion(SQLModel, table=True):
    """A provaktivitet in a term (e.g. MATMAT01c, VT 2027); closed after the term."""

    __test__ = False  # not a pytest test class

    __tablename__ = "test_occasion"
    __table_args__ = (UniqueConstraint("activity_id", "term", name="uq_occasion_activity_term"),)

    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = _fk("test_activity.id")
    term: str = Field(max_length=7)  # "VT 2027" / "HT 2026"
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=255)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TestGroup(SQLModel, table=True):
    """A test group at one school unit for one occasion; ready groups go to Skolverket."""

    __test__ = False  # not a pytest test class

    __tablename__ = "test_group"
    __table_args__ = (
        Index("ix_test_group_unit_occasion", "school_unit_id", "occasion_id"),
        one_of("test_group", "status", GroupStatus),
    )

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    occasion_id: int = Field(foreign_key="test_occasion.id", index=True)
    school_unit_id: str = _fk("organisation.id", index=False)
    display_name: str = Field(max_length=120)
    status: str = Field(default=GroupStatus.DRAFT, max_length=10)
    follows_register: bool = True
    created_by: str = Field(max_length=255)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    modified: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ready_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def activity_id(self) -> str:
        """The id of the Activity that links this group to its provaktivitet (stable)."""
        return str(uuid.uuid5(ACTIVITY_NAMESPACE, self.id))


class TestGroupSource(SQLModel, table=True):
    """A class or teaching group a test group was built from (and follows)."""

    __test__ = False  # not a pytest test class

    __tablename__ = "test_group_source"

    test_group_id: str = Field(
        sa_column=Column(String(36), ForeignKey("test_group.id", ondelete="CASCADE"), primary_key=True)
    )
    register_group_id: str = Field(
        sa_column=Column(
            String(36), ForeignKey("register_group.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )


class TestGroupMember(SQLModel, table=True):
    """A pupil or member of staff in a test group, and how they got there.

    ``origin`` is ``register`` (follows a source class) or ``manual``; ``excluded`` keeps a
    hand-removed register pupil out, so that following the class does not bring them back.
    """

    __test__ = False  # not a pytest test class

    __tablename__ = "test_group_member"
    __table_args__ = (
        Index("ix_test_group_member_person", "person_id"),
        one_of("test_group_member", "role", MemberRole),
        one_of("test_group_member", "origin", MemberOrigin),
    )

    test_group_id: str = Field(
        sa_column=Column(String(36), ForeignKey("test_group.id", ondelete="CASCADE"), primary_key=True)
    )
    person_id: str = Field(
        sa_column=Column(String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    )
    role: str = Field(default=MemberRole.PUPIL, max_length=10, primary_key=True)
    origin: str = Field(default=MemberOrigin.MANUAL, max_length=10)
    excluded: bool = False
    added_by: str = Field(default="", max_length=255)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BackgroundTask(SQLModel, table=True):
    """A long-running job a user started (catalog refresh, bulk creation), with its progress."""

    __tablename__ = "background_task"
    __table_args__ = (
        one_of("background_task", "kind", TaskKind),
        one_of("background_task", "status", TaskStatus),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    status: str = Field(default=TaskStatus.QUEUED, max_length=10)
    done: int = 0
    total: int = 0
    message: str = ""
    parameters: str = ""  # JSON of ids only, never personal data
    created_by: str = Field(max_length=255)
    created: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TestGroupCheck(SQLModel, table=True):
    """A test group's validation summary, rewritten in the transaction of every change that may alter it.

    The overview reads these counts instead of validating every group against the register on each view;
    a group without a row (made before the table existed) is validated when shown.
    """

    __test__ = False  # not a pytest test class

    __tablename__ = "test_group_check"

    test_group_id: str = Field(
        sa_column=Column(String(36), ForeignKey("test_group.id", ondelete="CASCADE"), primary_key=True)
    )
    pupils: int = 0
    staff: int = 0
    errors: int = 0
    warnings: int = 0
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TestGroupCheckDue(SQLModel, table=True):
    """A mark that a group's stored summary may be out of date: a register write touched its members.

    Register writes only add these rows (inserts never wait for one another), so two imports touching
    the same group's pupils do not queue behind one summary row; the overview validates a marked group
    live, and the sweeper rewrites its summary and removes the marks it read.
    """

    __test__ = False  # not a pytest test class

    __tablename__ = "test_group_check_due"

    id: int | None = Field(default=None, primary_key=True)
    test_group_id: str = Field(sa_column=Column(String(36), nullable=False, index=True))
