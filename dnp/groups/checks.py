"""Each test group's stored validation summary (counts of pupils, staff, errors and warnings).

A group's own changes (the editor) rewrite its summary in their transaction. Register writes and
deletes touching its members, the class-following sync and a catalog refresh changing its test mark it
*due* in their transaction instead (an insert: concurrent imports never wait on a summary row or
deadlock over two), and the sweeper rewrites due summaries moments later. The overview reads the stored
counts of groups that are not due and validates the others live, so what it shows is always current;
the editor validates live, since it lists each issue.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy.orm import Session as SessionBase
from sqlmodel import Session
from sqlmodel import select

from dnp.common.sql import among
from dnp.groups.facts import facts_for_groups
from dnp.groups.facts import members_by_group
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupCheck
from dnp.groups.models import TestGroupCheckDue
from dnp.groups.models import TestGroupMember
from dnp.groups.models import TestOccasion
from dnp.groups.validation import GroupFacts
from dnp.groups.validation import validate_group
from dnp.register.models import Duty
from dnp.types import utcnow

CHUNK = 200  # groups validated at once: their members are loaded together
CHECKED = "dnp.groups.checked"  # session.info: (group id, members, issues) of the last one-group refresh


def _parts(values: Iterable[str], size: int) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def summary(facts: GroupFacts) -> dict[str, int]:
    """The counts the overview shows for one group: pupils, staff, errors, warnings."""
    return _counts(facts, validate_group(facts))


def _counts(facts: GroupFacts, issues: list) -> dict[str, int]:
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
    session.info.pop(CHECKED, None)
    for part in _parts(group_ids, CHUNK):
        groups = list(session.exec(select(TestGroup).where(TestGroup.id.in_(part))).all())
        members = members_by_group(groups, session=session)
        facts = facts_for_groups(groups, members, session=session) if groups else {}
        now = utcnow()
        rows = []
        for group_id, group_facts in facts.items():
            issues = validate_group(group_facts)
            rows.append({"test_group_id": group_id, **_counts(group_facts, issues), "checked_at": now})
            if len(facts) == 1:  # one group just changed: the editor re-rendering it may reuse this
                session.info[CHECKED] = (group_id, members.get(group_id, []), issues)
        connection = session.connection()
        connection.execute(delete(table).where(table.c.test_group_id.in_(part)))
        if rows:
            connection.execute(insert(table), rows)


def take_checked(group_id: str, *, session: Session) -> tuple[list, list] | None:
    """The members and issues the last refresh of this one group found, if nothing changed since.

    A change re-renders the editor right after its commit: this spares loading and validating the
    group a second time (a whole year: hundreds of rows). Taken once; any later flush or rollback of
    the session drops it, and so does another refresh.
    """
    checked = session.info.pop(CHECKED, None)
    if checked is None or checked[0] != group_id:
        return None
    return checked[1], checked[2]


@event.listens_for(SessionBase, "after_flush")
@event.listens_for(SessionBase, "after_soft_rollback")
def _forget_checked(session, *_args) -> None:
    session.info.pop(CHECKED, None)


def mark_due(group_ids: Iterable[str], *, session: Session) -> None:
    """Mark these groups' summaries as out of date (the sweeper rewrites them; the overview reads live)."""
    rows = [{"test_group_id": group_id} for group_id in sorted(set(group_ids))]
    if rows:
        session.connection().execute(insert(TestGroupCheckDue.__table__), rows)


def refresh_due(limit: int = 5000, *, session: Session) -> int:
    """Rewrite the summaries of groups marked due and remove exactly the marks read; returns how many groups.

    A mark committed after this read stays for the next sweep, so no change is missed. The caller commits.
    """
    marks = session.exec(select(TestGroupCheckDue.id, TestGroupCheckDue.test_group_id).limit(limit)).all()
    if not marks:
        return 0
    groups = {group_id for _, group_id in marks}
    refresh_checks(groups, session=session)
    table = TestGroupCheckDue.__table__
    for part in range(0, len(marks), 500):
        ids = [mark_id for mark_id, _ in marks[part : part + 500]]
        session.connection().execute(delete(table).where(table.c.id.in_(ids)))
    return len(groups)


def _due(group_ids: list[str], *, session: Session) -> set[str]:
    due: set[str] = set()
    for part in _parts(group_ids, 500):
        due.update(
            session.exec(
                select(TestGroupCheckDue.test_group_id).where(TestGroupCheckDue.test_group_id.in_(part)).distinct()
            ).all()
        )
    return due


def stored_checks(group_ids: list[str], *, session: Session) -> dict[str, dict[str, int]]:
    """The stored summaries of these groups, by group id; groups never checked or marked due are missing."""
    found: dict[str, dict[str, int]] = {}
    due = _due(group_ids, session=session)
    for part in _parts([group_id for group_id in group_ids if group_id not in due], 500):
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
        members = among(TestGroupMember.person_id, part, session=session)
        query = select(TestGroupMember.test_group_id).where(members)
        if role:
            query = query.where(TestGroupMember.role == role)
        groups.update(session.exec(query.distinct()).all())
    return groups


def duty_persons(duty_ids: Iterable[str], *, session: Session) -> set[str]:
    """The persons holding these duties (read before a delete, the duties are gone after it)."""
    persons: set[str] = set()
    for part in _parts(duty_ids, 500):
        duties = among(Duty.id, part, session=session)
        persons.update(session.exec(select(Duty.person_id).where(duties)).all())
    return persons


def refresh_for_register(
    person_ids: Iterable[str], staff_ids: Iterable[str] = (), *, session: Session
) -> None:
    """Register rows of these persons (enrolments, names, EPPNs) or these staff's duties changed."""
    groups = groups_with_members(person_ids, session=session)
    groups |= groups_with_members(staff_ids, "staff", session=session)
    mark_due(groups, session=session)


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
    mark_due(groups, session=session)


def check_unchecked_groups(*, session: Session) -> int:
    """Store the summary of every group that has none (made before the table existed); returns how many."""
    unchecked = session.exec(
        select(TestGroup.id)
        .outerjoin(TestGroupCheck, TestGroupCheck.test_group_id == TestGroup.id)
        .where(TestGroupCheck.test_group_id.is_(None))
    ).all()
    refresh_checks(unchecked, session=session)
    return len(unchecked)
