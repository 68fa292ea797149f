"""Publishing inside the transaction of every change that may touch the publication.

The group changes, the class-following sync and the register delete call these directly, in the
transaction that makes the change (rules 1–4): nothing needs subscribing first, so a worker, a CLI
command or a script publishes exactly as the web app does.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlmodel import Session

from dnp.audit import trail
from dnp.auth.roles import Access
from dnp.common.sql import among
from dnp.groups.models import GroupStatus
from dnp.groups.models import MemberRole
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.publication import store
from dnp.publication.models import CentralSetting
from dnp.publication.models import PublishedEntity
from dnp.publication.publisher import Publisher
from dnp.publication.publisher import chunks
from dnp.publication.settings import PROTECTED_KEY
from dnp.publication.settings import PROTECTED_MODES
from dnp.publication.settings import protected_mode
from dnp.register.models import Duty
from dnp.register.models import Person
from dnp.types import utcnow

log = logging.getLogger(__name__)


def _report(what: str, counts: dict) -> None:
    if counts:
        # Ids and counts only: documents hold personal data and never go to the log.
        log.info("publication after %s: %s", what, ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


def group_changed(group_id: str, *, session: Session) -> None:
    """A test group changed: its Group, Activity, members, duties and unit."""
    _report("test group change", Publisher(session=session).refresh(group_ids=[group_id]))


def persons_changed(person_ids: list[str], *, session: Session) -> None:
    """Register changes to persons: republish those who are (or were) published; others cost one query."""
    if not person_ids:
        return
    _report("register change to persons", Publisher(session=session).refresh(person_ids=person_ids))


def _staffed_ready_groups(person_ids: list[str], *, session: Session) -> set[str]:
    groups: set[str] = set()
    for part in chunks(person_ids):
        groups.update(
            session.execute(
                select(TestGroupMember.test_group_id)
                .join(TestGroup, TestGroup.id == TestGroupMember.test_group_id)
                .where(
                    among(TestGroupMember.person_id, part, session=session),
                    TestGroupMember.role == MemberRole.STAFF,
                    TestGroup.status == GroupStatus.READY,
                )
            ).scalars()
        )
    return groups


def duties_changed(duty_ids: list[str], *, session: Session) -> None:
    """Register changes to duties: the teachers' activities may now point at another duty."""
    if not duty_ids:
        return
    persons = {doc["person"]["id"] for doc in store.documents("Duty", duty_ids, session=session).values()}
    for part in chunks(duty_ids):
        duties = among(Duty.id, part, session=session)
        persons.update(session.execute(select(Duty.person_id).where(duties)).scalars())
    groups = _staffed_ready_groups(sorted(persons), session=session)
    counts = Publisher(session=session).refresh(group_ids=groups, duty_ids=duty_ids, pupils=False)
    _report("register change to duties", counts)


def organisations_changed(organisation_ids: list[str], *, session: Session) -> None:
    """Register changes to school units: their Organisation and, for a new code, every reference."""
    if not organisation_ids:
        return
    groups: set[str] = set()
    for part in chunks(organisation_ids):
        groups.update(
            session.execute(
                select(TestGroup.id).where(
                    among(TestGroup.school_unit_id, part, session=session),
                    TestGroup.status == GroupStatus.READY,
                )
            ).scalars()
        )
    if groups:
        _report("register change to school units", Publisher(session=session).refresh(group_ids=groups))


def rebuild(*, session: Session) -> dict:
    """Recompute the whole publication (after an upgrade that changes the documents); caller commits."""
    publisher = Publisher(session=session)
    group_ids = set(session.execute(select(TestGroup.id)).scalars()) | set(
        store.published_ids("Group", session=session)
    )
    return publisher.refresh(
        group_ids=group_ids,
        person_ids=store.published_ids("Person", session=session),
        duty_ids=store.published_ids("Duty", session=session),
        organisation_ids=store.published_ids("Organisation", session=session),
    )


def set_protected_mode(actor: str, mode: str, *, session: Session) -> dict:
    """Change the mode, audit it and republish every published protected person; caller commits."""
    if mode not in PROTECTED_MODES:
        raise ValueError(mode)
    before = protected_mode(session=session)
    if before == mode:
        return {}
    row = session.get(CentralSetting, PROTECTED_KEY) or CentralSetting(key=PROTECTED_KEY, value=mode)
    row.value, row.changed_by, row.changed_at = mode, actor, utcnow()
    session.add(row)
    session.flush()
    trail.record(
        actor,
        "setting.changed",
        "CentralSetting",
        PROTECTED_KEY,
        {"value": before},
        {"value": mode},
        session=session,
    )
    protected = session.execute(
        select(Person.id)
        .join(PublishedEntity, (PublishedEntity.id == Person.id) & (PublishedEntity.resource == "Person"))
        .where(Person.security_marking != "Ingen")
    ).scalars()
    return Publisher(session=session).refresh(person_ids=list(protected))


def change_protected_mode(rights: Access, mode: str, *, session: Session) -> int:
    """A central administrator changes the mode (as ``set_protected_mode``); returns how many protected
    persons are sent again. Anyone else gets ``PermissionError``: the service checks as the view does."""
    if not rights.central_admin:
        raise PermissionError("Bara en central administratör kan ändra hur skyddade personer skickas.")
    counts = set_protected_mode(rights.eppn, mode, session=session)
    return sum(value for key, value in counts.items() if key.startswith("Person."))
