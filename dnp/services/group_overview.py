"""What the overview and the editor show: occasions and groups with counts, classes, search."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import func
from sqlalchemy.orm import Bundle
from sqlmodel import Session
from sqlmodel import select

from dnp.models import Duty
from dnp.models import Enrolment
from dnp.models import Organisation
from dnp.models import Person
from dnp.models import RegisterGroup
from dnp.models import RegisterGroupMembership
from dnp.models import TestActivity
from dnp.models import TestGroup
from dnp.models import TestOccasion
from dnp.services.access import Access
from dnp.services.access import person_label
from dnp.services.access import person_sort_key
from dnp.services.access import shown_eppn
from dnp.services.group_facts import facts_for_groups
from dnp.services.group_validation import validate_group
from dnp.services.test_groups import fits_unit

STATUS_NAMES = {"draft": "Utkast", "ready": "Klar", "withdrawn": "Tillbakadragen"}


@dataclass
class GroupSummary:
    """One row of the overview."""

    group: TestGroup
    pupils: int
    staff: int
    errors: int
    warnings: int


@dataclass
class OccasionSummary:
    """An occasion and its groups at one unit."""

    occasion: TestOccasion
    activity: TestActivity
    groups: list[GroupSummary] = field(default_factory=list)

    @property
    def ready_candidates(self) -> int:
        """Drafts without blocking errors (what "mark all ready" would send)."""
        return sum(1 for g in self.groups if g.group.status == "draft" and g.errors == 0)


def manageable_units(session: Session, rights: Access) -> list[Organisation]:
    """School units the user may build groups at."""
    query = select(Organisation).where(Organisation.organisation_type == "Skolenhet")
    if not rights.central_admin:
        query = query.where(Organisation.id.in_(rights.unit_ids or {""}))
    return list(session.exec(query.order_by(Organisation.display_name)).all())


def unit_overview(session: Session, unit_id: str) -> list[OccasionSummary]:
    """Each occasion that has groups at the unit, newest term first, with validated counts."""
    groups = session.exec(
        select(TestGroup).where(TestGroup.school_unit_id == unit_id).order_by(TestGroup.display_name)
    ).all()
    if not groups:
        return []
    facts = facts_for_groups(session, list(groups))
    occasions = {
        occasion.id: OccasionSummary(occasion, activity)
        for occasion, activity in session.exec(
            select(TestOccasion, TestActivity)
            .join(TestActivity, TestActivity.id == TestOccasion.activity_id)
            .where(TestOccasion.id.in_({g.occasion_id for g in groups}))
        ).all()
    }
    for group in groups:
        group_facts = facts[group.id]
        issues = validate_group(group_facts)
        occasions[group.occasion_id].groups.append(
            GroupSummary(
                group=group,
                pupils=sum(1 for m in group_facts.members if m.role == "pupil"),
                staff=sum(1 for m in group_facts.members if m.role == "staff"),
                errors=sum(1 for i in issues if i.blocking),
                warnings=sum(1 for i in issues if not i.blocking),
            )
        )
    return sorted(
        occasions.values(),
        key=lambda o: (o.occasion.term[3:], o.occasion.term[:2], o.activity.display_name),
        reverse=False,
    )


def central_totals(session: Session) -> list[dict]:
    """Per school unit: groups by status and pupils in ready groups."""
    from dnp.models import TestGroupMember

    units = session.exec(
        select(Organisation)
        .where(Organisation.organisation_type == "Skolenhet")
        .order_by(Organisation.display_name)
    ).all()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for unit_id, status, number in session.exec(
        select(TestGroup.school_unit_id, TestGroup.status, func.count()).group_by(
            TestGroup.school_unit_id, TestGroup.status
        )
    ).all():
        counts[unit_id][status] = number
    pupils = dict(
        session.exec(
            select(TestGroup.school_unit_id, func.count(func.distinct(TestGroupMember.person_id)))
            .join(TestGroupMember, TestGroupMember.test_group_id == TestGroup.id)
            .where(
                TestGroup.status == "ready",
                TestGroupMember.role == "pupil",
                TestGroupMember.excluded.is_(False),
            )
            .group_by(TestGroup.school_unit_id)
        ).all()
    )
    return [
        {
            "unit": unit,
            "draft": counts[unit.id]["draft"],
            "ready": counts[unit.id]["ready"],
            "withdrawn": counts[unit.id]["withdrawn"],
            "pupils": pupils.get(unit.id, 0),
        }
        for unit in units
    ]


def unit_activities(session: Session, unit: Organisation) -> list[TestActivity]:
    """Provaktiviteter whose school type fits the unit."""
    activities = session.exec(
        select(TestActivity).order_by(TestActivity.school_type, TestActivity.display_name)
    ).all()
    return [a for a in activities if fits_unit(a, unit)]


def unit_classes(session: Session, unit_id: str) -> list[tuple]:
    """Classes first, then teaching groups (id, display_name, group_type), with member counts."""
    group = Bundle("group", RegisterGroup.id, RegisterGroup.display_name, RegisterGroup.group_type)
    # Counted per group through the primary key; a join makes PostgreSQL scan every membership.
    members = (
        select(func.count())
        .where(RegisterGroupMembership.group_id == RegisterGroup.id)
        .correlate(RegisterGroup)
        .scalar_subquery()
    )
    rows = session.exec(select(group, members).where(RegisterGroup.school_unit_id == unit_id)).all()
    return sorted(rows, key=lambda row: (row[0].group_type != "Klass", natural_order(row[0].display_name)))


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


def _pupils(session: Session, unit_id: str, person_ids: list[str], activity: TestActivity | None):
    from dnp.services.group_facts import class_names

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
    classes = class_names(session, unit_id, person_ids)
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


def preview(session: Session, unit_id: str, register_group_ids: list[str], activity: TestActivity | None):
    """The merged pupils of the chosen classes, flagged when they do not fit the test (those first)."""
    from dnp.services.test_groups import source_pupils

    pupils = _pupils(session, unit_id, source_pupils(session, unit_id, register_group_ids), activity)
    return sorted(pupils, key=lambda p: (p.fits, natural_order(p.class_name), person_sort_key(p.person)))


def search_pupils(session: Session, unit_id: str, query: str, limit: int = 15) -> list[CandidatePupil]:
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
        .join(Enrolment, Enrolment.person_id == Person.id)
        .where(Enrolment.school_unit_id == unit_id, Enrolment.cancelled.is_(False))
    ).all()

    found = [
        row
        for row in pupils
        if row.id in in_class
        or needle in (shown_eppn(row) or "").lower()
        or needle in person_label(row).lower()
    ]
    found.sort(key=person_sort_key)
    return _pupils(session, unit_id, list(dict.fromkeys(row.id for row in found))[:limit], None)


def unit_staff(session: Session, unit_id: str, query: str = "") -> list[tuple[Person, str, str]]:
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
