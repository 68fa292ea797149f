"""What the overview shows: a unit's occasions and groups with validated counts, and central totals."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select

from dnp.auth.roles import Access
from dnp.groups.checks import stored_checks
from dnp.groups.checks import summary
from dnp.groups.facts import facts_for_groups
from dnp.groups.models import GroupStatus
from dnp.groups.models import MemberRole
from dnp.groups.models import TestActivity
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.groups.models import TestOccasion
from dnp.register.models import Organisation
from dnp.register.models import OrganisationType
from dnp.ss12000.feedback import PublicationStatus
from dnp.ss12000.feedback import publication_status

STATUS_NAMES = {
    GroupStatus.DRAFT: "Utkast",
    GroupStatus.READY: "Klar",
    GroupStatus.WITHDRAWN: "Tillbakadragen",
}


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
        return sum(1 for g in self.groups if g.group.status == GroupStatus.DRAFT and g.errors == 0)


def manageable_units(rights: Access, *, session: Session) -> list[Organisation]:
    """School units the user may build groups at."""
    query = select(Organisation).where(Organisation.organisation_type == OrganisationType.SKOLENHET)
    if not rights.central_admin:
        query = query.where(Organisation.id.in_(rights.unit_ids or {""}))
    return list(session.exec(query.order_by(Organisation.display_name)).all())


def unit_overview(unit_id: str, *, session: Session) -> list[OccasionSummary]:
    """Each occasion that has groups at the unit, newest term first, with the stored validated counts."""
    groups = session.exec(
        select(TestGroup).where(TestGroup.school_unit_id == unit_id).order_by(TestGroup.display_name)
    ).all()
    if not groups:
        return []
    counts = stored_checks([g.id for g in groups], session=session)
    unchecked = [g for g in groups if g.id not in counts]
    if unchecked:  # made before summaries were stored: validated now (not stored, a view writes nothing)
        facts = facts_for_groups(unchecked, session=session)
        counts.update({group.id: summary(facts[group.id]) for group in unchecked})
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
        occasions[group.occasion_id].groups.append(
            GroupSummary(group=group, **counts[group.id], publication=publication[group.id])
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
        .where(Organisation.organisation_type == OrganisationType.SKOLENHET)
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
                TestGroup.status == GroupStatus.READY,
                TestGroupMember.role == MemberRole.PUPIL,
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
