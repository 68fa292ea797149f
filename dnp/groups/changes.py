"""Creating and changing test groups: every change checked, audited, and marked for publication."""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlmodel import Session
from sqlmodel import select

from dnp.audit import trail
from dnp.auth.roles import Access
from dnp.groups.candidates import fits_unit
from dnp.groups.candidates import source_pupils
from dnp.groups.checks import refresh_checks
from dnp.groups.facts import validate
from dnp.groups.models import GroupStatus
from dnp.groups.models import MemberOrigin
from dnp.groups.models import MemberRole
from dnp.groups.models import TestActivity
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupCheck
from dnp.groups.models import TestGroupMember
from dnp.groups.models import TestGroupSource
from dnp.groups.models import TestOccasion
from dnp.groups.sync import sync_group
from dnp.groups.terms import is_term
from dnp.publication import changes as publication
from dnp.register.models import Duty
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import RegisterGroup
from dnp.types import utcnow

MAX_NAME = 120


class GroupError(ValueError):
    """A change that cannot be made; the message tells the user why (Swedish)."""


def visible_group(rights: Access, group_id: str, *, session: Session) -> TestGroup | None:
    """The group if the user may manage its unit, else None (callers answer 404)."""
    group = session.get(TestGroup, group_id)
    if group is None or not rights.may_manage(group.school_unit_id):
        return None
    return group


def occasion_for(activity: TestActivity, term: str, *, session: Session) -> TestOccasion:
    """The open occasion for a provaktivitet and term, created on first use."""
    occasion = session.exec(
        select(TestOccasion).where(TestOccasion.activity_id == activity.id, TestOccasion.term == term)
    ).first()
    if occasion is None:
        occasion = TestOccasion(activity_id=activity.id, term=term)
        session.add(occasion)
        session.flush()
    if occasion.closed_at is not None:
        raise GroupError(f"Provtillfället {activity.display_name}, {term} är stängt.")
    return occasion


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise GroupError("Ge provgruppen ett namn.")
    if len(name) > MAX_NAME:
        raise GroupError(f"Namnet får vara högst {MAX_NAME} tecken.")
    return name


def _record(actor: str, action: str, group: TestGroup, *, session: Session, **change) -> None:
    trail.record(actor, f"group.{action}", "TestGroup", group.id, session=session, **change)


def _changed(group: TestGroup, *, session: Session, members_changed: bool = True) -> None:
    group.modified = utcnow()
    session.add(group)
    session.flush()
    publication.group_changed(group.id, session=session)
    if members_changed:  # a status change leaves the validation summary as it was
        refresh_checks([group.id], session=session)


def create_group(
    actor: str,
    rights: Access,
    unit_id: str,
    activity_id: str,
    term: str,
    name: str,
    register_group_ids: list[str] = (),
    follow: bool = True,
    *,
    session: Session,
) -> TestGroup:
    """Create a draft group, empty or from classes/teaching groups (which it then follows)."""
    unit = session.get(Organisation, unit_id)
    if unit is None or not rights.may_manage(unit_id):
        raise LookupError(unit_id)
    activity = session.get(TestActivity, activity_id or "")
    if activity is None or not fits_unit(activity, unit):
        raise GroupError("Välj ett nationellt prov som passar skolenhetens skolform.")
    if not is_term(term):
        raise GroupError("Välj termin.")
    sources = list(dict.fromkeys(register_group_ids))
    found = session.exec(
        select(RegisterGroup.id).where(RegisterGroup.id.in_(sources), RegisterGroup.school_unit_id == unit_id)
    ).all()
    if len(found) != len(sources):
        raise GroupError("En eller flera av de valda klasserna finns inte på skolenheten.")
    if not (name or "").strip():
        # No name given: "MA åk 9 9A" / "MATMAT01c NA26A + NA26B", as teachers will see it.
        chosen = session.exec(select(RegisterGroup.display_name).where(RegisterGroup.id.in_(sources))).all()
        name = f"{activity.display_name} {' + '.join(sorted(chosen))}".strip()
    group = TestGroup(
        id=str(uuid.uuid4()),
        occasion_id=occasion_for(activity, term, session=session).id,
        school_unit_id=unit_id,
        display_name=_clean_name(name),
        follows_register=bool(sources) and follow,
        created_by=actor,
    )
    session.add(group)
    session.flush()
    for source_id in sources:
        session.add(TestGroupSource(test_group_id=group.id, register_group_id=source_id))
    for person_id in source_pupils(unit_id, sources, session=session):
        session.add(
            TestGroupMember(
                test_group_id=group.id, person_id=person_id, origin=MemberOrigin.REGISTER, added_by=actor
            )
        )
    after = {"name": group.display_name, "activity": activity.display_name, "term": term, "sources": sources}
    _record(actor, "created", group, after=after, session=session)
    _changed(group, session=session)
    return group


def rename(actor: str, group: TestGroup, name: str, *, session: Session) -> None:
    """Give the group a new name."""
    name = _clean_name(name)
    if name == group.display_name:
        return
    before = {"name": group.display_name}
    group.display_name = name
    _record(actor, "renamed", group, before=before, after={"name": name}, session=session)
    _changed(group, session=session)


def _member(group: TestGroup, person_id: str, role: str, *, session: Session) -> TestGroupMember | None:
    return session.get(TestGroupMember, (group.id, person_id, role))


def add_pupil(actor: str, group: TestGroup, person_id: str, *, session: Session) -> None:
    """Add a pupil enrolled at the group's unit (kept even if they leave a followed class)."""
    enrolled = session.exec(
        select(Enrolment.id).where(
            Enrolment.person_id == person_id,
            Enrolment.school_unit_id == group.school_unit_id,
            Enrolment.cancelled.is_(False),
        )
    ).first()
    if enrolled is None:
        raise GroupError("Eleven är inte inskriven på skolenheten.")
    if not _add_pupil_by_hand(actor, group, person_id, session=session):
        return
    _record(actor, "pupil_added", group, after={"person": person_id}, session=session)
    _changed(group, session=session)


def _add_pupil_by_hand(actor: str, group: TestGroup, person_id: str, *, session: Session) -> bool:
    """Make the pupil a manual member (back in if excluded); False if already an active member."""
    member = _member(group, person_id, MemberRole.PUPIL, session=session)
    if member is not None and not member.excluded:
        return False
    member = member or TestGroupMember(test_group_id=group.id, person_id=person_id, role=MemberRole.PUPIL)
    member.origin, member.excluded = MemberOrigin.MANUAL, False
    member.added_by, member.added_at = actor, utcnow()
    session.add(member)
    return True


def add_class(actor: str, group: TestGroup, register_group_id: str, *, session: Session) -> int:
    """Add every pupil of another class or teaching group by hand; returns how many were new."""
    klass = session.get(RegisterGroup, register_group_id)
    if klass is None or klass.school_unit_id != group.school_unit_id:
        raise GroupError("Klassen finns inte på skolenheten.")
    added = 0
    for person_id in source_pupils(group.school_unit_id, [register_group_id], session=session):
        added += _add_pupil_by_hand(actor, group, person_id, session=session)
    after = {"class": register_group_id, "added": added}
    _record(actor, "class_added", group, after=after, session=session)
    _changed(group, session=session)
    return added


def add_staff(actor: str, group: TestGroup, person_id: str, *, session: Session) -> None:
    """Add a member of staff who has a duty at the group's unit (they will see all results)."""
    duty = session.exec(
        select(Duty.id).where(Duty.person_id == person_id, Duty.school_unit_id == group.school_unit_id)
    ).first()
    if duty is None:
        raise GroupError("Personen har ingen tjänstgöring på skolenheten.")
    if _member(group, person_id, MemberRole.STAFF, session=session) is not None:
        return
    session.add(
        TestGroupMember(test_group_id=group.id, person_id=person_id, role=MemberRole.STAFF, added_by=actor)
    )
    _record(actor, "staff_added", group, after={"person": person_id}, session=session)
    _changed(group, session=session)


def remove_member(actor: str, group: TestGroup, person_id: str, role: str, *, session: Session) -> None:
    """Remove a pupil or member of staff; a followed-class pupil stays out until added again."""
    member = _member(group, person_id, role, session=session)
    if member is None or member.excluded:
        raise LookupError(person_id)
    if role == MemberRole.PUPIL and member.origin == MemberOrigin.REGISTER and group.follows_register:
        member.excluded = True
        session.add(member)
    else:
        session.delete(member)
    _record(actor, f"{role}_removed", group, before={"person": person_id}, session=session)
    _changed(group, session=session)


def set_following(actor: str, group: TestGroup, follow: bool, *, session: Session) -> None:
    """Follow the source classes, or freeze the list as it is now."""
    has_sources = session.exec(
        select(TestGroupSource).where(TestGroupSource.test_group_id == group.id)
    ).first()
    if follow and has_sources is None:
        raise GroupError("Gruppen är inte skapad från någon klass och kan inte följa registret.")
    if group.follows_register == follow:
        return
    before = {"follows_register": group.follows_register}
    group.follows_register = follow
    _record(actor, "following", group, before=before, after={"follows_register": follow}, session=session)
    _changed(group, session=session)
    if follow:
        sync_group(group, session=session)


def mark_ready(actor: str, group: TestGroup, issues: list | None = None, *, session: Session) -> None:
    """Draft or withdrawn → ready, only without blocking errors (``issues``: its validation, if known)."""
    if group.status == GroupStatus.READY:
        return
    errors = [
        issue for issue in (validate(group, session=session) if issues is None else issues) if issue.blocking
    ]
    if errors:
        raise GroupError(f"Gruppen har {len(errors)} fel som måste rättas innan den kan markeras klar.")
    before = {"status": group.status}
    group.status, group.ready_at, group.withdrawn_at = GroupStatus.READY, utcnow(), None
    _record(actor, "ready", group, before=before, after={"status": GroupStatus.READY}, session=session)
    _changed(group, session=session, members_changed=False)


def withdraw(actor: str, group: TestGroup, *, session: Session) -> None:
    """Ready → withdrawn: Skolverket is told to remove the group."""
    if group.status != GroupStatus.READY:
        raise GroupError("Bara grupper som är klara kan dras tillbaka.")
    group.status, group.withdrawn_at = GroupStatus.WITHDRAWN, utcnow()
    _record(
        actor,
        "withdrawn",
        group,
        before={"status": GroupStatus.READY},
        after={"status": GroupStatus.WITHDRAWN},
        session=session,
    )
    _changed(group, session=session, members_changed=False)


def delete_draft(actor: str, group: TestGroup, *, session: Session) -> None:
    """Delete a group that never left (draft); ready groups must be withdrawn instead."""
    if group.status == GroupStatus.READY:
        raise GroupError("En grupp som är klar måste dras tillbaka, inte tas bort.")
    _record(actor, "deleted", group, before={"name": group.display_name}, session=session)
    # Core deletes: the ORM does not know these rows hang on the group and would order them wrongly.
    for table in (TestGroupMember.__table__, TestGroupSource.__table__, TestGroupCheck.__table__):
        session.execute(delete(table).where(table.c.test_group_id == group.id))
    session.delete(group)
    session.flush()
    publication.group_changed(group.id, session=session)
