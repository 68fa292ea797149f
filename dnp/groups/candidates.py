"""What a test group can be built from at a unit: fitting activities, classes, pupils and staff.

Used by the new-group form, the editor's searches and the class-following sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select

from dnp.common.people import person_label
from dnp.common.people import person_sort_key
from dnp.common.people import shown_eppn
from dnp.groups.facts import class_names
from dnp.groups.models import TestActivity
from dnp.register.models import Duty
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import Person
from dnp.register.models import RegisterGroup
from dnp.register.models import RegisterGroupMembership


def fits_unit(activity: TestActivity, unit: Organisation) -> bool:
    """A provaktivitet fits a unit whose school types include the test's (GY courses serve VUXGY too)."""
    if not unit.school_types:
        return True
    return activity.school_type in unit.school_types or (
        activity.school_type == "GY" and "VUXGY" in unit.school_types
    )


def source_pupils(unit_id: str, register_group_ids: list[str], *, session: Session) -> list[str]:
    """Members of the given classes/teaching groups at the unit, duplicates merged, in order."""
    if not register_group_ids:
        return []
    rows = session.exec(
        select(RegisterGroupMembership.person_id)
        .join(RegisterGroup, RegisterGroup.id == RegisterGroupMembership.group_id)
        .where(RegisterGroup.id.in_(register_group_ids), RegisterGroup.school_unit_id == unit_id)
    ).all()
    return list(dict.fromkeys(rows))


def unit_person(unit_id: str, person_id: str, *, session: Session) -> Person | None:
    """A person with an enrolment or duty at the unit (others are not reachable from it)."""
    enrolled = session.exec(
        select(Enrolment.id).where(Enrolment.person_id == person_id, Enrolment.school_unit_id == unit_id)
    ).first()
    duty = session.exec(
        select(Duty.id).where(Duty.person_id == person_id, Duty.school_unit_id == unit_id)
    ).first()
    return session.get(Person, person_id) if enrolled or duty else None



def unit_activities(unit: Organisation, *, session: Session) -> list[TestActivity]:
    """Provaktiviteter whose school type fits the unit."""
    activities = session.exec(
        select(TestActivity).order_by(TestActivity.school_type, TestActivity.display_name)
    ).all()
    return [a for a in activities if fits_unit(a, unit)]


class UnitClass(NamedTuple):
    """A class or teaching group at the unit, as the editor's and the new-group form's lists show it."""

    id: str
    display_name: str
    group_type: str


def unit_classes(unit_id: str, *, session: Session) -> list[tuple]:
    """Classes first, then teaching groups (id, display_name, group_type), with member counts."""
    # Counted per group through the primary key; a join makes PostgreSQL scan every membership.
    members = (
        select(func.count())
        .where(RegisterGroupMembership.group_id == RegisterGroup.id)
        .correlate(RegisterGroup)
        .scalar_subquery()
    )
    session.flush()  # plain rows (Core): the ORM's per-row work cost more than the query; no autoflush
    rows = session.connection().execute(
        select(RegisterGroup.id, RegisterGroup.display_name, RegisterGroup.group_type, members).where(
            RegisterGroup.school_unit_id == unit_id
        )
    )
    found = [(UnitClass(group_id, name, group_type), count) for group_id, name, group_type, count in rows]
    return sorted(found, key=lambda row: (row[0].group_type != "Klass", natural_order(row[0].display_name)))


def natural_order(name: str) -> tuple:
    """Sort key for class names: "9A" before "10A"."""
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


@dataclass
class CandidatePupil:
    """A pupil in a preview or a search result."""

    person: Person
    label: str
    class_name: str
    school_type: str | None
    school_year: int | None
    fits: bool


def _pupils(unit_id: str, person_ids: list[str], activity: TestActivity | None, *, session: Session):
    if not person_ids:
        return []
    persons = {p.id: p for p in session.exec(select(Person).where(Person.id.in_(person_ids))).all()}
    enrolments = {
        e.person_id: e
        for e in session.exec(
            select(Enrolment).where(
                Enrolment.person_id.in_(person_ids),
                Enrolment.school_unit_id == unit_id,
                Enrolment.cancelled.is_(False),
            )
        ).all()
    }
    classes = class_names(unit_id, person_ids, session=session)
    result = []
    for person_id in person_ids:
        person, enrolment = persons.get(person_id), enrolments.get(person_id)
        if person is None:
            continue
        school_type = enrolment.school_type if enrolment else None
        school_year = enrolment.school_year if enrolment else None
        fits = enrolment is not None and (
            activity is None
            or (
                school_type == activity.school_type
                and (not activity.school_year or school_year == activity.school_year)
            )
        )
        result.append(
            CandidatePupil(
                person, person_label(person), classes.get(person_id, ""), school_type, school_year, fits
            )
        )
    return result


def preview(unit_id: str, register_group_ids: list[str], activity: TestActivity | None, *, session: Session):
    """The merged pupils of the chosen classes, flagged when they do not fit the test (those first)."""
    sources = source_pupils(unit_id, register_group_ids, session=session)
    pupils = _pupils(unit_id, sources, activity, session=session)
    return sorted(pupils, key=lambda p: (p.fits, natural_order(p.class_name), person_sort_key(p.person)))


def _pupil_of(unit_id: str, *, session: Session):
    """A filter on Person.id: enrolled at the unit (not cancelled), looked up by primary key.

    On PostgreSQL ``= ANY(ARRAY(subquery))``: a join or ``IN (subquery)`` is planned as a hash join that
    reads every person of the register (100,000 rows, 60–170 ms) to keep a unit's 2,000.
    """
    enrolled = select(Enrolment.person_id).where(
        Enrolment.school_unit_id == unit_id, Enrolment.cancelled.is_(False)
    )
    if session.get_bind().dialect.name == "postgresql":
        return Person.id == func.any(func.array(enrolled.scalar_subquery()))
    return Person.id.in_(enrolled)


def search_pupils(unit_id: str, query: str, limit: int = 15, *, session: Session) -> list[CandidatePupil]:
    """Pupils at the unit by name (alias for protected persons), class or EPPN; never by civic number."""
    needle = query.strip().lower()
    if len(needle) < 2:
        return []
    in_class = set(
        session.exec(
            select(RegisterGroupMembership.person_id)
            .join(RegisterGroup, RegisterGroup.id == RegisterGroupMembership.group_id)
            .where(RegisterGroup.school_unit_id == unit_id, func.lower(RegisterGroup.display_name) == needle)
        ).all()
    )
    # Matched here rather than with ILIKE in SQL: a substring cannot use an index, and PostgreSQL then
    # scans every person in the register (a second for a search that matches nobody). A unit's own
    # pupils are a few thousand short rows at most.
    pupils = session.exec(
        select(
            Person.id,
            Person.given_name,
            Person.family_name,
            Person.eppn,
            Person.security_marking,
            Person.alias_given_name,
            Person.alias_family_name,
        )
        .where(_pupil_of(unit_id, session=session))
    ).all()

    found = [
        row
        for row in pupils
        if row.id in in_class
        or needle in (shown_eppn(row) or "").lower()
        or needle in person_label(row).lower()
    ]
    found.sort(key=person_sort_key)
    return _pupils(unit_id, list(dict.fromkeys(row.id for row in found))[:limit], None, session=session)


def unit_staff(unit_id: str, query: str = "", *, session: Session) -> list[tuple[Person, str, str]]:
    """Staff with a duty at the unit: (person, label, duty role), optionally filtered by name or EPPN."""
    statement = (
        select(Person, Duty.duty_role)
        .join(Duty, Duty.person_id == Person.id)
        .where(Duty.school_unit_id == unit_id)
    )
    rows = sorted(session.exec(statement).all(), key=lambda row: person_sort_key(row[0]))
    needle = query.strip().lower()
    result, seen = [], set()
    for person, role in rows:
        if person.id in seen:
            continue
        seen.add(person.id)
        label = person_label(person)
        if needle and needle not in label.lower() and needle not in (shown_eppn(person) or "").lower():
            continue
        result.append((person, label, role))
    return result
