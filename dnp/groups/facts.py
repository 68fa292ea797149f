"""Loading test group members with what validation and the editor need, in bulk."""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import null
from sqlmodel import Session
from sqlmodel import select

from dnp.common.people import person_label
from dnp.common.people import person_sort_key
from dnp.groups.models import TestActivity
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.groups.models import TestOccasion
from dnp.groups.validation import GroupFacts
from dnp.groups.validation import MemberFacts
from dnp.groups.validation import validate_group
from dnp.register.models import Duty
from dnp.register.models import Enrolment
from dnp.register.models import Person
from dnp.register.models import RegisterGroup
from dnp.register.models import RegisterGroupMembership


def _member_facts(person, role: str, enrolment, duty) -> MemberFacts:
    return MemberFacts(
        person_id=person.id,
        role=role,
        label=person_label(person),
        given_name=person.given_name,
        family_name=person.family_name,
        eppn=person.eppn,
        civic_no=person.civic_no,
        protected=person.security_marking != "Ingen",
        has_alias=bool(person.alias_given_name and person.alias_family_name),
        emails=person.emails or [],
        enrolled=enrolment is not None,
        school_type=enrolment.school_type if enrolment else None,
        school_year=enrolment.school_year if enrolment else None,
        education_code=enrolment.education_code if enrolment else None,
        duty_role=duty.duty_role if duty else None,
    )


class MemberPart(NamedTuple):
    """The membership: group, pupil or staff, and how the member came in."""

    test_group_id: str
    role: str
    origin: str


class PersonPart(NamedTuple):
    """The person: name, alias, EPPN and civic number; e-mail addresses for staff only."""

    id: str
    given_name: str
    family_name: str
    eppn: str | None
    civic_no: str
    security_marking: str
    alias_given_name: str | None
    alias_family_name: str | None
    emails: list | None


class EnrolmentPart(NamedTuple):
    """The enrolment at the group's unit."""

    person_id: str | None
    school_unit_id: str | None
    school_type: str | None
    school_year: int | None
    education_code: str | None


class DutyPart(NamedTuple):
    """The duty at the group's unit."""

    person_id: str | None
    school_unit_id: str | None
    duty_role: str | None


# Only the columns validation and the editor use, read as plain rows (Core, no ORM bundles): for a whole
# year the ORM's per-row processing cost more than the SQL. Sliced into the parts above by position.
MEMBER_COLUMNS = [TestGroupMember.test_group_id, TestGroupMember.role, TestGroupMember.origin]
PERSON_COLUMNS = [
    Person.id,
    Person.given_name,
    Person.family_name,
    Person.eppn,
    Person.civic_no,
    Person.security_marking,
    Person.alias_given_name,
    Person.alias_family_name,
    # Only staff need their e-mail addresses checked: a pupil's JSON is not fetched and decoded.
    case((TestGroupMember.role == "staff", Person.emails), else_=null()).label("emails"),
]
ENROLMENT_COLUMNS = [
    Enrolment.person_id.label("enrolment_person_id"),
    Enrolment.school_unit_id.label("enrolment_school_unit_id"),
    Enrolment.school_type,
    Enrolment.school_year,
    Enrolment.education_code,
]
DUTY_COLUMNS = [
    Duty.person_id.label("duty_person_id"),
    Duty.school_unit_id.label("duty_school_unit_id"),
    Duty.duty_role,
]
_PERSON_AT = len(MEMBER_COLUMNS)
_ENROLMENT_AT = _PERSON_AT + len(PERSON_COLUMNS)
_DUTY_AT = _ENROLMENT_AT + len(ENROLMENT_COLUMNS)


def members_by_group(groups: list[TestGroup], *, session: Session) -> dict[str, list[tuple]]:
    """(member, person, enrolment at the unit, duty at the unit) per group id, excluded ones left out.

    Each part is a read-only row with the attributes validation and the editor need (not an ORM object).
    One query: the enrolment and duty are joined at the group's unit in SQL, so no list of person ids
    goes back and forth (hundreds of bound parameters per query cost PostgreSQL more than the rows).
    """
    if not groups:
        return {}
    session.flush()  # a Core select does not autoflush: members just added must be read too
    rows = (
        session.connection()
        .execute(
            select(*MEMBER_COLUMNS, *PERSON_COLUMNS, *ENROLMENT_COLUMNS, *DUTY_COLUMNS)
            .select_from(TestGroupMember)
            .join(Person, Person.id == TestGroupMember.person_id)
            .join(TestGroup, TestGroup.id == TestGroupMember.test_group_id)
            .outerjoin(
                Enrolment,
                and_(
                    Enrolment.person_id == TestGroupMember.person_id,
                    Enrolment.school_unit_id == TestGroup.school_unit_id,
                    Enrolment.cancelled.is_(False),
                ),
            )
            .outerjoin(
                Duty,
                and_(
                    Duty.person_id == TestGroupMember.person_id,
                    Duty.school_unit_id == TestGroup.school_unit_id,
                ),
            )
            .where(
                TestGroupMember.test_group_id.in_([group.id for group in groups]),
                TestGroupMember.excluded.is_(False),
            )
        )
        .all()
    )
    parts = [
        (
            MemberPart(*row[:_PERSON_AT]),
            PersonPart(*row[_PERSON_AT:_ENROLMENT_AT]),
            EnrolmentPart(*row[_ENROLMENT_AT:_DUTY_AT]),
            DutyPart(*row[_DUTY_AT:]),
        )
        for row in rows
    ]
    parts.sort(key=lambda part: person_sort_key(part[1]))  # by the name shown: alias for protected persons
    result: dict[str, list[tuple]] = defaultdict(list)
    seen: set[tuple[str, str, str]] = set()
    for member, person, enrolment, duty in parts:
        key = (member.test_group_id, person.id, member.role)
        if key in seen:  # a second enrolment or duty at the unit: the first one counts
            continue
        seen.add(key)
        result[member.test_group_id].append(
            (
                member,
                person,
                enrolment if enrolment.person_id is not None else None,
                duty if duty.person_id is not None else None,
            )
        )
    return result


def facts_for_groups(
    groups: list[TestGroup],
    members: dict[str, list[tuple]] | None = None,
    activities: dict[str, TestActivity] | None = None,
    *,
    session: Session,
) -> dict[str, GroupFacts]:
    """Validation input for many groups with a handful of queries.

    ``members`` and ``activities`` (each group's test, by occasion id) if the caller has them already.
    """
    if activities is None:
        activities = {
            occasion_id: activity
            for occasion_id, activity in session.exec(
                select(TestOccasion.id, TestActivity)
                .join(TestActivity, TestActivity.id == TestOccasion.activity_id)
                .where(TestOccasion.id.in_({g.occasion_id for g in groups}))
            ).all()
        }
    members = members_by_group(groups, session=session) if members is None else members
    facts = {}
    for group in groups:
        activity = activities[group.occasion_id]
        facts[group.id] = GroupFacts(
            display_name=group.display_name,
            test_school_type=activity.school_type,
            test_school_year=activity.school_year,
            members=[
                _member_facts(person, member.role, enrolment, duty)
                for member, person, enrolment, duty in members.get(group.id, [])
            ],
        )
    return facts


def validate(group: TestGroup, *, session: Session):
    """The validation issues of one group."""
    return validate_group(facts_for_groups([group], session=session)[group.id])


def class_names(unit_id: str, person_ids: list[str], *, session: Session) -> dict[str, str]:
    """Each person's class (Klass) at the unit, for display."""
    names: dict[str, str] = {}
    for start in range(0, len(person_ids), 500):
        part = person_ids[start : start + 500]
        rows = session.exec(
            select(RegisterGroupMembership.person_id, RegisterGroup.display_name)
            .join(
                RegisterGroup,
                and_(
                    RegisterGroup.id == RegisterGroupMembership.group_id,
                    RegisterGroup.group_type == "Klass",
                    RegisterGroup.school_unit_id == unit_id,
                ),
            )
            .where(RegisterGroupMembership.person_id.in_(part))
            # A pupil in two classes shows the first by name, whatever plan the database chose.
            .order_by(RegisterGroupMembership.person_id, RegisterGroup.display_name)
        ).all()
        for person_id, name in rows:
            names.setdefault(person_id, name)
    return names


def member_class_names(group: TestGroup, *, session: Session) -> dict[str, str]:
    """Each member's class (Klass) at the group's unit, for display: joined in SQL, no id list sent.

    A member in two classes shows the first by name. Looked up per member (the database probes each
    member's few memberships, and each class once): joining every membership of the members to its group
    first made PostgreSQL look up the group of each of a whole year's ~1,000 memberships: 2.5 times as long.
    """
    first_class = (
        select(func.min(RegisterGroup.display_name))
        .select_from(RegisterGroupMembership)
        .join(RegisterGroup, RegisterGroup.id == RegisterGroupMembership.group_id)
        .where(
            RegisterGroupMembership.person_id == TestGroupMember.person_id,
            RegisterGroup.group_type == "Klass",
            RegisterGroup.school_unit_id == group.school_unit_id,
        )
        .correlate(TestGroupMember)
        .scalar_subquery()
    )
    rows = session.exec(
        select(TestGroupMember.person_id, first_class).where(
            TestGroupMember.test_group_id == group.id, TestGroupMember.excluded.is_(False)
        )
    ).all()
    names: dict[str, str] = {}
    for person_id, name in rows:
        if name is not None:
            names.setdefault(person_id, name)
    return names
