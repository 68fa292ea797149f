"""Groups built from classes follow them: pupils who join or leave a class join or leave the group."""

from __future__ import annotations

from sqlmodel import Session
from sqlmodel import select

from dnp.audit import trail
from dnp.common.sql import among
from dnp.groups.candidates import source_pupils
from dnp.groups.checks import duty_persons
from dnp.groups.checks import mark_due
from dnp.groups.checks import refresh_for_register
from dnp.groups.models import GroupStatus
from dnp.groups.models import MemberOrigin
from dnp.groups.models import MemberRole
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.groups.models import TestGroupSource
from dnp.publication import changes as publication

REGISTER_ACTOR = "register"


def sync_group(group: TestGroup, *, session: Session) -> tuple[int, int]:
    """Bring a following group in line with its classes; hand-made changes stay. Returns (joined, left)."""
    if not group.follows_register or group.status == GroupStatus.WITHDRAWN:
        return 0, 0
    sources = session.exec(
        select(TestGroupSource.register_group_id).where(TestGroupSource.test_group_id == group.id)
    ).all()
    wanted = set(source_pupils(group.school_unit_id, list(sources), session=session))
    members = {
        member.person_id: member
        for member in session.exec(
            select(TestGroupMember).where(
                TestGroupMember.test_group_id == group.id, TestGroupMember.role == MemberRole.PUPIL
            )
        ).all()
    }
    joined = [person_id for person_id in wanted if person_id not in members]
    left = [m for m in members.values() if m.origin == MemberOrigin.REGISTER and m.person_id not in wanted]
    for person_id in sorted(joined):
        session.add(
            TestGroupMember(
                test_group_id=group.id,
                person_id=person_id,
                origin=MemberOrigin.REGISTER,
                added_by=REGISTER_ACTOR,
            )
        )
        trail.record(
            REGISTER_ACTOR,
            "group.pupil_joined",
            "TestGroup",
            group.id,
            after={"person": person_id},
            session=session,
        )
    for member in left:
        session.delete(member)
        if not member.excluded:
            trail.record(
                REGISTER_ACTOR,
                "group.pupil_left",
                "TestGroup",
                group.id,
                before={"person": member.person_id},
                session=session,
            )
    if joined or left:
        session.flush()
        publication.group_changed(group.id, session=session)
        mark_due([group.id], session=session)
    return len(joined), len(left)


def groups_following(register_group_ids: list[str], *, session: Session) -> list[TestGroup]:
    """Test groups that follow any of these classes or teaching groups."""
    groups: dict[str, TestGroup] = {}
    for start in range(0, len(register_group_ids), 500):
        part = register_group_ids[start : start + 500]
        for group in session.exec(
            select(TestGroup)
            .join(TestGroupSource, TestGroupSource.test_group_id == TestGroup.id)
            .where(
                among(TestGroupSource.register_group_id, part, session=session),
                TestGroup.follows_register.is_(True),
            )
        ).all():
            groups[group.id] = group
    return list(groups.values())


def sync_for_register_groups(register_group_ids: list[str], *, session: Session) -> int:
    """Sync every following test group built from any of these classes; returns how many changed."""
    changed = 0
    for group in groups_following(register_group_ids, session=session):
        joined, left = sync_group(group, session=session)
        changed += bool(joined or left)
    return changed


def remove_deleted_persons(person_ids: list[str], *, session: Session) -> None:
    """A person deleted from the register leaves every test group (audited as the register's doing)."""
    for start in range(0, len(person_ids), 500):
        part = person_ids[start : start + 500]
        members = session.exec(select(TestGroupMember).where(TestGroupMember.person_id.in_(part))).all()
        groups = set()
        for member in members:
            session.delete(member)
            groups.add(member.test_group_id)
            trail.record(
                REGISTER_ACTOR,
                f"group.{member.role}_left",
                "TestGroup",
                member.test_group_id,
                before={"person": member.person_id},
                session=session,
            )
        session.flush()
        for group_id in sorted(groups):
            publication.group_changed(group_id, session=session)
        mark_due(groups, session=session)


def after_register_change(changed: dict[str, list[str]], deleted: bool = False, *, session: Session) -> None:
    """React to a committed-soon register write: follow classes, tell the publication."""
    if deleted:
        remove_deleted_persons(changed.get("persons", []), session=session)
    sync_for_register_groups(changed.get("groups", []), session=session)
    staff = duty_persons(changed.get("duties", []), session=session)
    refresh_for_register(changed.get("persons", []), staff, session=session)
    publication.persons_changed(changed.get("persons", []), session=session)
    publication.duties_changed(changed.get("duties", []), session=session)
    publication.organisations_changed(changed.get("organisations", []), session=session)
