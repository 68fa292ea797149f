"""Loading test group members with what validation and the editor need, in bulk."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import and_
from sqlalchemy.orm import Bundle
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


# Only the columns validation and the editor use: whole ORM rows (JSON, timestamps) cost more than the SQL.
MEMBER = Bundle("member", TestGroupMember.test_group_id, TestGroupMember.role, TestGroupMember.origin)
PERSON = Bundle(
    "person",
    Person.id,
    Person.given_name,
    Person.family_name,
    Person.eppn,
    Person.civic_no,
    Person.security_marking,
    Person.alias_given_name,
    Person.alias_family_name,
    Person.emails,
)
ENROLMENT = Bundle(
    "enrolment",
    Enrolment.person_id,
    Enrolment.school_unit_id,
    Enrolment.school_type,
    Enrolment.school_year,
    Enrolment.education_code,
)
DUTY = Bundle("duty", Duty.person_id, Duty.school_unit_id, Duty.duty_role)


def members_by_group(groups: list[TestGroup], *, session: Session) -> dict[str, list[tuple]]:
    """(member, person, enrolment at the unit, duty at the unit) per group id, excluded ones left out.

    Each part is a read-only row with the attributes validation and the editor need (not an ORM object).
    """
    if not groups:
        return {}
    unit_of = {group.id: group.school_unit_id for group in groups}
    rows = session.exec(
        select(MEMBER, PERSON)
        .join(Person, Person.id == TestGroupMember.person_id)
        .where(TestGroupMember.test_group_id.in_(list(unit_of)), TestGroupMember.excluded.is_(False))
    ).all()
    rows.sort(key=lambda row: person_sort_key(row[1]))  # by the name shown: alias for protected persons
    person_ids = list({person.id for _, person in rows})
    units = list(set(unit_of.values()))
    enrolments: dict[tuple[str, str], tuple] = {}
    duties: dict[tuple[str, str], tuple] = {}
    for start in range(0, len(person_ids), 500):
        part = person_ids[start : start + 500]
        for enrolment in session.exec(
            select(ENROLMENT).where(
                Enrolment.person_id.in_(part),
                Enrolment.school_unit_id.in_(units),
                Enrolment.cancelled.is_(False),
            )
        ).all():
            enrolments.setdefault((enrolment.person_id, enrolment.school_unit_id), enrolment)
        for duty in session.exec(
            select(DUTY).where(Duty.person_id.in_(part), Duty.school_unit_id.in_(units))
        ).all():
            duties.setdefault((duty.person_id, duty.school_unit_id), duty)
    result: dict[str, list[tuple]] = defaultdict(list)
    for member, person in rows:
        key = (person.id, unit_of[member.test_group_id])
        result[member.test_group_id].append((member, person, enrolments.get(key), duties.get(key)))
    return result


def facts_for_groups(
    groups: list[TestGroup], members: dict[str, list[tuple]] | None = None, *, session: Session
) -> dict[str, GroupFacts]:
    """Validation input for many groups with a handful of queries (``members`` if already loaded)."""
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
        ).all()
        for person_id, name in rows:
            names.setdefault(person_id, name)
    return names
