"""What the overview shows: a unit's occasions and groups with validated counts, and central totals."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select

from dnp.auth.roles import Access
from dnp.groups.facts import facts_for_groups
from dnp.groups.models import TestActivity
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.groups.models import TestOccasion
from dnp.groups.validation import validate_group
from dnp.register.models import Organisation
from dnp.ss12000.feedback import PublicationStatus
from dnp.ss12000.feedback import publication_status

STATUS_NAMES = {"draft": "Utkast", "ready": "Klar", "withdrawn": "Tillbakadragen"}


@dataclass
class GroupSummary:
    """One row of the overview."""

    group: TestGroup
    pupils: int
    staff: int
    errors: int
    warnings: int
    publication: PublicationStatus = PublicationStatus()


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


def manageable_units(rights: Access, *, session: Session) -> list[Organisation]:
    """School units the user may build groups at."""
    query = select(Organisation).where(Organisation.organisation_type == "Skolenhet")
    if not rights.central_admin:
        query = query.where(Organisation.id.in_(rights.unit_ids or {""}))
    return list(session.exec(query.order_by(Organisation.display_name)).all())


def unit_overview(unit_id: str, *, session: Session) -> list[OccasionSummary]:
    """Each occasion that has groups at the unit, newest term first, with validated counts."""
    groups = session.exec(
        select(TestGroup).where(TestGroup.school_unit_id == unit_id).order_by(TestGroup.display_name)
    ).all()
    if not groups:
        return []
    facts = facts_for_groups(list(groups), session=session)
    publication = publication_status([g.id for g in groups], session=session)
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
                publication=publication[group.id],
            )
        )
    return sorted(
        occasions.values(),
        key=lambda o: (o.occasion.term[3:], o.occasion.term[:2], o.activity.display_name),
        reverse=False,
    )


def central_totals(*, session: Session) -> list[dict]:
    """Per school unit: groups by status and pupils in ready groups."""
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
