"""Each test group's stored validation summary (counts of pupils, staff, errors and warnings).

Rewritten in the transaction of every change that may alter a group's validation: the group's own
changes, the class-following sync, register writes and deletes touching its members, and a catalog
refresh changing its test. The overview reads the stored counts instead of validating every group
against the register on each view (issue 15); the editor still validates live, since it lists each issue.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy import insert
from sqlmodel import Session
from sqlmodel import select

from dnp.groups.facts import facts_for_groups
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupCheck
from dnp.groups.models import TestGroupMember
from dnp.groups.models import TestOccasion
from dnp.groups.validation import GroupFacts
from dnp.groups.validation import validate_group
from dnp.register.models import Duty
from dnp.types import utcnow

CHUNK = 200  # groups validated at once: their members are loaded together


def _parts(values: Iterable[str], size: int) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def summary(facts: GroupFacts) -> dict[str, int]:
    """The counts the overview shows for one group: pupils, staff, errors, warnings."""
    issues = validate_group(facts)
    errors = sum(1 for issue in issues if issue.blocking)
    return {
        "pupils": sum(1 for member in facts.members if member.role == "pupil"),
        "staff": sum(1 for member in facts.members if member.role == "staff"),
        "errors": errors,
        "warnings": len(issues) - errors,
    }


def refresh_checks(group_ids: Iterable[str], *, session: Session) -> None:
    """Validate these groups again and store their summaries (a deleted group's summary goes)."""
    table = TestGroupCheck.__table__
    session.flush()  # the changes just made are what is validated
    for part in _parts(group_ids, CHUNK):
        groups = list(session.exec(select(TestGroup).where(TestGroup.id.in_(part))).all())
        facts = facts_for_groups(groups, session=session) if groups else {}
        now = utcnow()
        connection = session.connection()
        connection.execute(delete(table).where(table.c.test_group_id.in_(part)))
        if facts:
            rows = [{"test_group_id": gid, **summary(f), "checked_at": now} for gid, f in facts.items()]
            connection.execute(insert(table), rows)


def stored_checks(group_ids: list[str], *, session: Session) -> dict[str, dict[str, int]]:
    """The stored summaries of these groups, by group id (groups never checked are missing)."""
    found: dict[str, dict[str, int]] = {}
    for part in _parts(group_ids, 500):
        for row in session.exec(
            select(
                TestGroupCheck.test_group_id,
                TestGroupCheck.pupils,
                TestGroupCheck.staff,
                TestGroupCheck.errors,
                TestGroupCheck.warnings,
            ).where(TestGroupCheck.test_group_id.in_(part))
        ).all():
            found[row.test_group_id] = {
                "pupils": row.pupils,
                "staff": row.staff,
                "errors": row.errors,
                "warnings": row.warnings,
            }
    return found


def groups_with_members(person_ids: Iterable[str], role: str | None = None, *, session: Session) -> set[str]:
    """Test groups any of these persons is a member of (in ``role``, if given)."""
    groups: set[str] = set()
    for part in _parts(person_ids, 500):
        query = select(TestGroupMember.test_group_id).where(TestGroupMember.person_id.in_(part))
        if role:
            query = query.where(TestGroupMember.role == role)
        groups.update(session.exec(query.distinct()).all())
    return groups


def duty_persons(duty_ids: Iterable[str], *, session: Session) -> set[str]:
    """The persons holding these duties (read before a delete, the duties are gone after it)."""
    persons: set[str] = set()
    for part in _parts(duty_ids, 500):
        persons.update(session.exec(select(Duty.person_id).where(Duty.id.in_(part))).all())
    return persons


def refresh_for_register(
    person_ids: Iterable[str], staff_ids: Iterable[str] = (), *, session: Session
) -> None:
    """Register rows of these persons (enrolments, names, EPPNs) or these staff's duties changed."""
    groups = groups_with_members(person_ids, session=session)
    groups |= groups_with_members(staff_ids, "staff", session=session)
    if groups:
        refresh_checks(groups, session=session)


def refresh_for_activities(activity_ids: Iterable[str], *, session: Session) -> None:
    """A test's school type or year changed: its groups' test-fit warnings may change."""
    groups: set[str] = set()
    for part in _parts(activity_ids, 500):
        groups.update(
            session.exec(
                select(TestGroup.id)
                .join(TestOccasion, TestOccasion.id == TestGroup.occasion_id)
                .where(TestOccasion.activity_id.in_(part))
            ).all()
        )
    if groups:
        refresh_checks(groups, session=session)


def check_unchecked_groups(*, session: Session) -> int:
    """Store the summary of every group that has none (made before the table existed); returns how many."""
    unchecked = session.exec(
        select(TestGroup.id)
        .outerjoin(TestGroupCheck, TestGroupCheck.test_group_id == TestGroup.id)
        .where(TestGroupCheck.test_group_id.is_(None))
    ).all()
    refresh_checks(unchecked, session=session)
    return len(unchecked)
