"""Demo test groups, most of them ready, so a fresh install already serves a realistic snapshot."""

from __future__ import annotations

import contextlib

from sqlmodel import Session
from sqlmodel import select

from dnp.auth.roles import Access
from dnp.demo.users import CENTRAL_ADMIN
from dnp.groups.bulk import classes_of_year
from dnp.groups.catalog import ensure_catalog
from dnp.groups.changes import GroupError
from dnp.groups.changes import add_staff
from dnp.groups.changes import create_group
from dnp.groups.changes import mark_ready
from dnp.groups.models import TestActivity
from dnp.groups.models import TestGroup
from dnp.register.models import Duty
from dnp.register.models import Organisation
from dnp.register.models import RegisterGroup
from dnp.register.models import skolverket_id

DEMO_TERM = "VT 2027"
GR_TESTS = (("MA åk 9", 9), ("SV åk 9", 9), ("MA åk 6", 6))
GY_TESTS = ("MATMAT01c", "ENGENG05")


def create_demo_groups(unit_limit: int = 4, *, session: Session) -> int:
    """Groups for a few tests at the first units, with teachers; all but one per unit ready."""
    ensure_catalog(session=session)
    if session.exec(select(TestGroup.id).limit(1)).first() is not None:
        return 0
    rights = Access(eppn=CENTRAL_ADMIN, central_admin=True)
    units = session.exec(
        select(Organisation)
        .where(Organisation.organisation_type == "Skolenhet")
        .order_by(Organisation.display_name)
    ).all()
    created = 0
    for unit in list(units)[:unit_limit]:
        teachers = session.exec(
            select(Duty.person_id).where(Duty.school_unit_id == unit.id, Duty.duty_role == "Lärare")
        ).all()
        plans = _plans(unit, session=session)
        for index, (activity, classes, name) in enumerate(plans):
            group = create_group(
                CENTRAL_ADMIN, rights, unit.id, activity.id, DEMO_TERM, name, classes, session=session
            )
            for teacher in teachers[index % max(1, len(teachers)) :][:2]:
                add_staff(CENTRAL_ADMIN, group, teacher, session=session)
            created += 1
            if index != len(plans) - 1:  # the last group of each unit stays a draft
                with contextlib.suppress(GroupError):  # the deliberately broken pupils keep a draft
                    mark_ready(CENTRAL_ADMIN, group, session=session)
    return created


def _plans(unit: Organisation, *, session: Session) -> list[tuple[TestActivity, list[str], str]]:
    plans = []
    if "GY" in unit.school_types:
        for course in GY_TESTS:
            activity = session.get(TestActivity, skolverket_id(course))
            teaching = session.exec(
                select(RegisterGroup)
                .where(RegisterGroup.school_unit_id == unit.id, RegisterGroup.display_name.startswith(course))
                .order_by(RegisterGroup.display_name)
                .limit(3)
            ).all()
            plans += [(activity, [g.id], g.display_name) for g in teaching]
        return plans
    for name, year in GR_TESTS:
        activity = session.get(TestActivity, skolverket_id(name))
        for klass in classes_of_year(unit.id, year, session=session):
            plans.append((activity, [klass.id], f"{name} {klass.display_name}"))
    return plans
