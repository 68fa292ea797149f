"""Publishing inside the transaction of every change that may touch the publication.

The group editor and the register ingest call ``publication_hooks``; ``init()`` subscribes the
publisher there (once per process, from ``create_app``).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlmodel import Session

from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.register.models import Duty
from dnp.services import publication_hooks
from dnp.services import publication_store as store
from dnp.services.publication import Publisher
from dnp.services.publication import chunks

log = logging.getLogger(__name__)
_registered = False


def _report(what: str, counts: dict) -> None:
    if counts:
        # Ids and counts only: documents hold personal data and never go to the log.
        log.info("publication after %s: %s", what, ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


def group_changed(session: Session, group_id: str) -> None:
    """A test group changed: its Group, Activity, members, duties and unit."""
    _report("test group change", Publisher(session).refresh(group_ids=[group_id]))


def persons_changed(session: Session, person_ids: list[str]) -> None:
    """Register changes to persons: republish those who are (or were) published; others cost one query."""
    _report("register change to persons", Publisher(session).refresh(person_ids=person_ids))


def _staffed_ready_groups(session: Session, person_ids: list[str]) -> set[str]:
    groups: set[str] = set()
    for part in chunks(person_ids):
        groups.update(
            session.execute(
                select(TestGroupMember.test_group_id)
                .join(TestGroup, TestGroup.id == TestGroupMember.test_group_id)
                .where(
                    TestGroupMember.person_id.in_(part),
                    TestGroupMember.role == "staff",
                    TestGroup.status == "ready",
                )
            ).scalars()
        )
    return groups


def duties_changed(session: Session, duty_ids: list[str]) -> None:
    """Register changes to duties: the teachers' activities may now point at another duty."""
    persons = {doc["person"]["id"] for doc in store.documents(session, "Duty", duty_ids).values()}
    for part in chunks(duty_ids):
        persons.update(session.execute(select(Duty.person_id).where(Duty.id.in_(part))).scalars())
    groups = _staffed_ready_groups(session, sorted(persons))
    counts = Publisher(session).refresh(group_ids=groups, duty_ids=duty_ids, pupils=False)
    _report("register change to duties", counts)


def organisations_changed(session: Session, organisation_ids: list[str]) -> None:
    """Register changes to school units: their Organisation and, for a new code, every reference."""
    groups: set[str] = set()
    for part in chunks(organisation_ids):
        groups.update(
            session.execute(
                select(TestGroup.id).where(TestGroup.school_unit_id.in_(part), TestGroup.status == "ready")
            ).scalars()
        )
    if groups:
        _report("register change to school units", Publisher(session).refresh(group_ids=groups))


def rebuild(session: Session) -> dict:
    """Recompute the whole publication (after an upgrade that changes the documents); caller commits."""
    publisher = Publisher(session)
    group_ids = set(session.execute(select(TestGroup.id)).scalars()) | set(
        store.published_ids(session, "Group")
    )
    return publisher.refresh(
        group_ids=group_ids,
        person_ids=store.published_ids(session, "Person"),
        duty_ids=store.published_ids(session, "Duty"),
        organisation_ids=store.published_ids(session, "Organisation"),
    )


def init() -> None:
    """Subscribe the publisher to the change hooks (idempotent)."""
    global _registered
    if _registered:
        return
    _registered = True
    publication_hooks.on_group_changed(group_changed)
    publication_hooks.on_persons_changed(persons_changed)
    publication_hooks.on_duties_changed(duties_changed)
    publication_hooks.on_organisations_changed(organisations_changed)
