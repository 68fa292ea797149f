"""Many test groups at once: one per class of a school year, all ready, or an occasion closed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select

from dnp.audit import trail
from dnp.auth.roles import Access
from dnp.auth.roles import access_for
from dnp.groups.candidates import unit_activities
from dnp.groups.changes import GroupError
from dnp.groups.changes import create_group
from dnp.groups.changes import mark_ready
from dnp.groups.changes import withdraw
from dnp.groups.models import BackgroundTask
from dnp.groups.models import TestActivity
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupSource
from dnp.groups.models import TestOccasion
from dnp.groups.tasks import start_task
from dnp.groups.terms import upcoming_terms
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import RegisterGroup
from dnp.register.models import RegisterGroupMembership
from dnp.types import utcnow


def classes_of_year(unit_id: str, school_year: int, *, session: Session) -> list[RegisterGroup]:
    """Classes (Klass) at the unit whose pupils are mostly in ``school_year``."""
    rows = session.exec(
        select(RegisterGroup, Enrolment.school_year, func.count())
        .join(RegisterGroupMembership, RegisterGroupMembership.group_id == RegisterGroup.id)
        .join(
            Enrolment,
            (Enrolment.person_id == RegisterGroupMembership.person_id)
            & (Enrolment.school_unit_id == unit_id),
        )
        .where(RegisterGroup.school_unit_id == unit_id, RegisterGroup.group_type == "Klass")
        .group_by(RegisterGroup.id, Enrolment.school_year)
    ).all()
    best: dict[str, tuple[int, int | None, RegisterGroup]] = {}
    for group, year, count in rows:
        if group.id not in best or count > best[group.id][0]:
            best[group.id] = (count, year, group)
    classes = [group for _, year, group in best.values() if year == school_year]
    return sorted(classes, key=lambda g: g.display_name)


def start_per_class(
    actor: str,
    rights: Access,
    unit: Organisation,
    activity_id: str,
    term: str,
    today: date,
    *,
    session: Session,
) -> BackgroundTask:
    """Queue "a group per class" for a test with a school year at the unit and an upcoming term.

    Refuses (GroupError) a test that does not fit the unit or has no school year, and a past or unknown
    term. The caller commits, then enqueues ``run_background_task(task.id)``.
    """
    if not rights.may_manage(unit.id):
        raise LookupError(unit.id)
    activity = session.get(TestActivity, activity_id)
    offered = unit_activities(unit, session=session)
    fits = activity is not None and activity.school_year and activity in offered
    if not fits or term not in upcoming_terms(today):
        raise GroupError("Välj prov och termin.")
    parameters = {"activity_id": activity.id, "term": term, "school_year": activity.school_year}
    parameters["unit_id"] = unit.id
    return start_task(actor, "bulk_create", parameters, session=session)


def create_per_class(
    actor: str, parameters: dict, progress: Callable[[int, int, str], None], *, session: Session
) -> int:
    """Create a following group per class of the year; classes that already have one are skipped.

    ``progress`` is called after each class: the job commits there, so each class's group is saved
    together with the progress that reports it.
    """
    unit_id, activity_id = parameters["unit_id"], parameters["activity_id"]
    term, school_year = parameters["term"], int(parameters["school_year"])
    activity = session.get(TestActivity, activity_id)
    classes = classes_of_year(unit_id, school_year, session=session)
    existing = set(
        session.exec(
            select(TestGroupSource.register_group_id)
            .join(TestGroup, TestGroup.id == TestGroupSource.test_group_id)
            .join(TestOccasion, TestOccasion.id == TestGroup.occasion_id)
            .where(
                TestOccasion.activity_id == activity_id,
                TestOccasion.term == term,
                TestGroup.status != "withdrawn",
            )
        ).all()
    )
    rights = access_for(actor, session=session)
    created = 0
    for index, klass in enumerate(classes, start=1):
        if klass.id not in existing:
            name = f"{activity.display_name} {klass.display_name}"
            create_group(session, actor, rights, unit_id, activity_id, term, name, [klass.id])
            created += 1
        progress(index, len(classes), f"Klass {klass.display_name} ({index} av {len(classes)})")
    return created


def ready_all(
    session: Session, actor: str, rights: Access, unit_id: str, occasion_id: int
) -> tuple[int, int]:
    """Mark every draft group of an occasion at a unit ready that has no blocking errors.

    Withdrawn groups stay withdrawn: someone took them away from Skolverket on purpose.
    """
    if not rights.may_manage(unit_id):
        raise LookupError(unit_id)
    groups = session.exec(
        select(TestGroup).where(
            TestGroup.school_unit_id == unit_id,
            TestGroup.occasion_id == occasion_id,
            TestGroup.status == "draft",
        )
    ).all()
    done = skipped = 0
    for group in groups:
        try:
            mark_ready(session, actor, group)
            done += 1
        except GroupError:
            skipped += 1
    return done, skipped


def close_occasion(session: Session, actor: str, occasion_id: int) -> int:
    """Close an occasion after its term: all its ready groups are withdrawn together."""
    occasion = session.get(TestOccasion, occasion_id)
    if occasion is None:
        raise LookupError(occasion_id)
    if occasion.closed_at is not None:
        return 0
    groups = session.exec(
        select(TestGroup).where(TestGroup.occasion_id == occasion_id, TestGroup.status == "ready")
    ).all()
    for group in groups:
        withdraw(session, actor, group)
    occasion.closed_at, occasion.closed_by = utcnow(), actor
    session.add(occasion)
    trail.record(
        session, actor, "occasion.closed", "TestOccasion", str(occasion_id), after={"withdrawn": len(groups)}
    )
    return len(groups)

