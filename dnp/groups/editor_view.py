"""Everything the group editor page shows, gathered in one place."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session
from sqlmodel import select

from dnp.common.people import person_label
from dnp.common.people import shown_eppn
from dnp.groups.candidates import natural_order
from dnp.groups.candidates import unit_classes
from dnp.groups.checks import take_checked
from dnp.groups.facts import facts_for_groups
from dnp.groups.facts import member_class_names
from dnp.groups.facts import members_by_group
from dnp.groups.models import MemberRole
from dnp.groups.models import TestActivity
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupSource
from dnp.groups.models import TestOccasion
from dnp.groups.overview import STATUS_NAMES
from dnp.groups.validation import validate_group
from dnp.register.models import Organisation
from dnp.register.models import RegisterGroup
from dnp.ss12000.feedback import feedback_for_group
from dnp.ss12000.feedback import publication_status


@dataclass
class MemberRow:
    """One pupil or member of staff as the editor lists them."""

    person_id: str
    label: str
    eppn: str | None  # None also when hidden: a protected person's EPPN holding the real name
    protected: bool
    origin: str
    class_name: str = ""
    school_type: str | None = None
    school_year: int | None = None
    duty_role: str | None = None
    errors: int = 0
    warnings: int = 0
    eppn_hidden: bool = False


@dataclass
class ClassRows:
    """The group's pupils of one class, with the class's problem counts (the editor folds each class)."""

    name: str
    rows: list[MemberRow]

    @property
    def errors(self) -> int:
        """Blocking problems of the class's pupils."""
        return sum(row.errors for row in self.rows)

    @property
    def warnings(self) -> int:
        """Warnings about the class's pupils."""
        return sum(row.warnings for row in self.rows)

    @property
    def key(self) -> str:
        """A stable id fragment for the class's fold (kept open across re-renders by app.js)."""
        return "".join(ch if ch.isalnum() else "-" for ch in self.name.lower()) or "utan-klass"


def pupils_by_class(pupils: list[MemberRow]) -> list[ClassRows]:
    """Pupils grouped by class: classes with blocking problems first, then in natural order; no class last."""
    grouped: dict[str, list[MemberRow]] = defaultdict(list)
    for row in pupils:
        grouped[row.class_name].append(row)
    classes = [ClassRows(name, rows) for name, rows in grouped.items()]
    return sorted(classes, key=lambda c: (c.errors == 0, c.name == "", natural_order(c.name)))


def editor_context(group: TestGroup, *, session: Session) -> dict:
    """Group, test, unit, members with their problems, validation and sources."""
    occasion, activity, unit = session.exec(  # one round trip instead of three
        select(TestOccasion, TestActivity, Organisation)
        .join(TestActivity, TestActivity.id == TestOccasion.activity_id)
        .join(Organisation, Organisation.id == group.school_unit_id)
        .where(TestOccasion.id == group.occasion_id)
    ).one()
    checked = take_checked(group.id, session=session)  # what the change just made found, if any
    if checked is not None:
        members, issues = checked
    else:
        loaded = members_by_group([group], session=session)
        members = loaded.get(group.id, [])
        facts = facts_for_groups([group], loaded, {occasion.id: activity}, session=session)
        issues = validate_group(facts[group.id])
    per_person: dict[str, list] = defaultdict(list)
    for issue in issues:
        if issue.person_id:
            per_person[issue.person_id].append(issue)
    classes = member_class_names(group, session=session)
    pupils, staff = [], []
    for member, person, enrolment, duty in members:
        own = per_person.get(person.id, [])
        eppn = shown_eppn(person)
        row = MemberRow(
            person_id=person.id,
            label=person_label(person),
            eppn=eppn,
            eppn_hidden=bool(person.eppn) and eppn is None,
            protected=person.security_marking != "Ingen",
            origin=member.origin,
            class_name=classes.get(person.id, ""),
            school_type=enrolment.school_type if enrolment else None,
            school_year=enrolment.school_year if enrolment else None,
            duty_role=duty.duty_role if duty else None,
            errors=sum(1 for i in own if i.blocking),
            warnings=sum(1 for i in own if not i.blocking),
        )
        (pupils if member.role == MemberRole.PUPIL else staff).append(row)
    sources = session.exec(
        select(RegisterGroup)
        .join(TestGroupSource, TestGroupSource.register_group_id == RegisterGroup.id)
        .where(TestGroupSource.test_group_id == group.id)
        .order_by(RegisterGroup.display_name)
    ).all()
    errors = [i for i in issues if i.blocking]
    return {
        "publication": publication_status([group.id], session=session)[group.id],
        "feedback": feedback_for_group(group, pupils + staff, session=session),
        "group": group,
        "occasion": occasion,
        "activity": activity,
        "unit": unit,
        "pupils": pupils,
        "pupil_classes": pupils_by_class(pupils),
        "staff": staff,
        "issues": issues,
        "errors": errors,
        "warnings": [i for i in issues if not i.blocking],
        "sources": sources,
        "classes": unit_classes(group.school_unit_id, session=session),
        "status_names": STATUS_NAMES,
        "protected_count": sum(1 for row in pupils + staff if row.protected),
    }


__all__ = ["editor_context", "ClassRows", "MemberRow", "pupils_by_class", "person_label"]
