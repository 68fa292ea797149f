"""Keeping the publication in step with ready test groups and the register, in the caller's transaction.

A change names what it may have touched (test groups, persons, duties, school units). The publisher
widens that to everything whose document could depend on it, renders each document from the register
as it is now, and compares it with the stored one: new → inserted, different → updated with
``modified`` = now, unreachable → deleted with a ``deleted_entity`` row, equal → not written at all.
Every real change also writes an ``outbox`` row for the notifier.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import and_
from sqlalchemy import select
from sqlmodel import Session

from dnp.common import codes
from dnp.common.sql import among
from dnp.groups.models import ACTIVITY_NAMESPACE
from dnp.groups.models import GroupStatus
from dnp.groups.models import MemberRole
from dnp.groups.models import TestActivity
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.groups.models import TestOccasion
from dnp.publication import render
from dnp.publication import store
from dnp.publication.models import Resource
from dnp.publication.rows import DUTY
from dnp.publication.rows import DUTY_COLUMNS
from dnp.publication.rows import ENROLMENT
from dnp.publication.rows import ENROLMENT_JOINED
from dnp.publication.rows import ORGANISATION
from dnp.publication.rows import PERSON
from dnp.publication.rows import PERSON_COLUMNS
from dnp.publication.rows import UNIT_COLUMNS
from dnp.publication.rows import Enrolled
from dnp.publication.rows import Unit
from dnp.publication.settings import protected_mode
from dnp.register.models import organisation_ref
from dnp.types import utcnow

CHUNK = 500


def chunks(values, size: int = CHUNK):
    """Sorted lists of at most ``size`` values, for IN (...) queries."""
    values = sorted(set(values))
    for start in range(0, len(values), size):
        yield values[start : start + size]


def activity_id_for(group_id: str) -> str:
    """The published Activity id of a test group (the same as ``TestGroup.activity_id``)."""
    return str(uuid.uuid5(ACTIVITY_NAMESPACE, group_id))


class Publisher:
    """One publication pass over a set of possibly affected entities; the caller commits."""

    def __init__(self, *, session: Session):
        self.session = session
        self.now = utcnow()
        self.writer = store.Writer(self.now, session=session)
        self._units: dict | None = None
        self._mode: str | None = None

    @property
    def mode(self) -> str:
        """How protected persons are sent (central setting)."""
        if self._mode is None:
            self._mode = protected_mode(session=self.session)
        return self._mode

    def _rows(self, query) -> list:
        """Plain rows of a Core select in the session's transaction (no ORM objects)."""
        return self.session.connection().execute(query).all()

    def _among(self, column, values):
        return among(column, values, session=self.session)

    def units(self) -> dict[str, Unit]:
        """Register school units with at least one ready group (rows), by register id."""
        if self._units is None:
            ready_units = select(TestGroup.school_unit_id).where(TestGroup.status == GroupStatus.READY)
            rows = self._rows(select(*UNIT_COLUMNS).where(ORGANISATION.c.id.in_(ready_units)))
            self._units = {
                row.id: Unit(
                    row.id, organisation_ref(row), row.display_name, row.school_unit_code, row.school_types
                )
                for row in rows
            }
        return self._units

    def refresh(self, group_ids=(), person_ids=(), duty_ids=(), organisation_ids=(), pupils=True) -> dict:
        """Publish whatever changed among these and everything that depends on them; returns counts."""
        # The documents are read with Core selects, which do not autoflush: changes made through ORM objects
        # in this session must reach the database first, or the old values would be published.
        self.session.flush()
        persons, duties, organisations = set(person_ids), set(duty_ids), set(organisation_ids)
        for part in chunks(group_ids):
            more_persons, more_duties, more_organisations = self._groups(part, pupils)
            persons |= more_persons
            duties |= more_duties
            organisations |= more_organisations
        for part in chunks(persons):
            self._persons(part)
        for part in chunks(duties):
            self._duties(part)
        self._organisations(sorted(organisations))
        return dict(self.writer.counts)

    def _groups(self, group_ids: list[str], pupils: bool) -> tuple[set, set, set]:
        activity_ids = {group_id: activity_id_for(group_id) for group_id in group_ids}
        old_groups = store.documents(Resource.GROUP, group_ids, session=self.session)
        old_activities = store.documents(Resource.ACTIVITY, list(activity_ids.values()), session=self.session)
        persons: set[str] = set()
        duties: set[str] = set()
        organisations = {doc["organisation"]["id"] for doc in old_groups.values()}
        if pupils:
            for doc in old_groups.values():
                persons |= {m["person"]["id"] for m in doc.get("groupMemberships", [])}
        for doc in old_activities.values():
            duties |= {teacher["duty"]["id"] for teacher in doc.get("teachers", [])}
        old_duties = store.documents(Resource.DUTY, sorted(duties), session=self.session)
        persons |= {doc["person"]["id"] for doc in old_duties.values()}

        rows = self._rows(
            select(
                TestGroup.id,
                TestGroup.display_name,
                TestGroup.school_unit_id,
                TestActivity.id.label("activity_id"),
                TestActivity.school_type,
            )
            .join(TestOccasion, TestOccasion.id == TestGroup.occasion_id)
            .join(TestActivity, TestActivity.id == TestOccasion.activity_id)
            .where(self._among(TestGroup.id, group_ids), TestGroup.status == GroupStatus.READY)
        )
        ready = {group.id: group for group in rows}
        members: dict[str, dict[str, list[str]]] = defaultdict(
            lambda: {MemberRole.PUPIL: [], MemberRole.STAFF: []}
        )
        if ready:
            for group_id, person_id, role in self._rows(
                select(TestGroupMember.test_group_id, TestGroupMember.person_id, TestGroupMember.role).where(
                    self._among(TestGroupMember.test_group_id, list(ready)),
                    TestGroupMember.excluded.is_(False),
                )
            ):
                members[group_id][role].append(person_id)
        chosen = self._chosen_duties(
            {
                (person_id, group.school_unit_id)
                for group in ready.values()
                for person_id in members[group.id][MemberRole.STAFF]
            }
        )
        groups, activities = {}, {}
        for group_id in group_ids:
            activities[activity_ids[group_id]] = groups[group_id] = None
            if group_id not in ready:
                continue
            group = ready[group_id]
            unit = self.units()[group.school_unit_id]
            staff = members[group_id][MemberRole.STAFF]
            duty_ids = [chosen[(p, unit.id)].id for p in staff if (p, unit.id) in chosen]
            data = render.GroupInput(
                group_id=group.id,
                activity_id=activity_ids[group_id],
                display_name=group.display_name,
                school_type=_group_school_type(group.school_type, unit.school_types),
                unit_ref=unit.skolverket_id,
                parent_activity_id=group.activity_id,
                pupil_ids=members[group_id][MemberRole.PUPIL],
                duty_ids=duty_ids,
            )
            groups[group_id] = render.group_document(data)
            activities[data.activity_id] = render.activity_document(data)
            persons |= set(staff) | (set(data.pupil_ids) if pupils else set())
            duties |= set(duty_ids)
            organisations.add(unit.skolverket_id)
        self.writer.apply(Resource.GROUP, groups)
        self.writer.apply(Resource.ACTIVITY, activities)
        return persons, duties, organisations

    def _chosen_duties(self, pairs: set[tuple[str, str]]) -> dict:
        """The duty (row) that stands for each (person, unit) that has one."""
        duties = []
        for part in chunks({person_id for person_id, _ in pairs}):
            duties += self._rows(select(*DUTY_COLUMNS).where(self._among(DUTY.c.person_id, part)))
        return _chosen(duties, pairs)

    def _ready_memberships(self, person_ids: list[str], role: str | None = None) -> list[tuple]:
        query = (
            select(TestGroupMember.person_id, TestGroupMember.role, TestGroup.school_unit_id)
            .join(TestGroup, TestGroup.id == TestGroupMember.test_group_id)
            .where(
                self._among(TestGroupMember.person_id, person_ids),
                TestGroupMember.excluded.is_(False),
                TestGroup.status == GroupStatus.READY,
            )
        )
        if role:
            query = query.where(TestGroupMember.role == role)
        return self._rows(query)

    def _persons(self, person_ids: list[str]) -> None:
        reachable: set[str] = set()
        pupil_units: dict[str, set[str]] = defaultdict(set)
        for person_id, role, unit_id in self._ready_memberships(person_ids):
            reachable.add(person_id)
            if role == MemberRole.PUPIL:
                pupil_units[person_id].add(unit_id)
        desired: dict[str, dict | None] = dict.fromkeys(person_ids)
        if reachable:
            mode = self.mode
            # Each person with their enrolments in one query (a whole year's persons in two queries were
            # two round trips with the same id list). Cancelled enrolments and school types Skolverket does
            # not test are never published, nor an enrolment at a unit where the person is no ready pupil.
            enrolled = and_(
                ENROLMENT.c.person_id == PERSON.c.id,
                ENROLMENT.c.cancelled.is_(False),
                ENROLMENT.c.school_type.in_(sorted(codes.DNP_SCHOOL_TYPES)),
            )
            rows = self._rows(
                select(*PERSON_COLUMNS, *ENROLMENT_JOINED)
                .select_from(PERSON.outerjoin(ENROLMENT, enrolled))
                .where(self._among(PERSON.c.id, list(reachable)))
                .order_by(PERSON.c.id, ENROLMENT.c.id)
            )
            enrolments: dict[str, list[dict]] = defaultdict(list)
            persons = {}
            for row in rows:
                persons[row.id] = row
                if row.enrolment_school_unit_id in pupil_units.get(row.id, ()):
                    unit_ref = self.units()[row.enrolment_school_unit_id].skolverket_id
                    enrolment = Enrolled(*row[len(PERSON_COLUMNS) :])
                    if document := render.enrolment_document(enrolment, unit_ref):
                        enrolments[row.id].append(document)
            for person_id, person in persons.items():
                desired[person_id] = render.person_document(person, enrolments[person_id], mode)
        self.writer.apply(Resource.PERSON, desired)

    def _duties(self, duty_ids: list[str]) -> None:
        # These duties with every other duty of their persons, in one query: which duty stands for a
        # person at a unit depends on all of the person's duties there.
        persons_of = select(DUTY.c.person_id).where(self._among(DUTY.c.id, duty_ids))
        all_duties = self._rows(select(*DUTY_COLUMNS).where(DUTY.c.person_id.in_(persons_of)))
        wanted = set(duty_ids)
        duties = [duty for duty in all_duties if duty.id in wanted]
        persons = sorted({duty.person_id for duty in duties})
        staffed = {
            (person_id, unit_id)
            for person_id, _, unit_id in self._ready_memberships(persons, MemberRole.STAFF)
        }
        chosen = _chosen(all_duties, staffed)
        desired: dict[str, dict | None] = dict.fromkeys(duty_ids)
        for duty in duties:
            pair = (duty.person_id, duty.school_unit_id)
            if pair in chosen and chosen[pair].id == duty.id:
                desired[duty.id] = render.duty_document(duty, self.units()[duty.school_unit_id].skolverket_id)
        self.writer.apply(Resource.DUTY, desired)

    def _organisations(self, organisation_ids: list[str]) -> None:
        if not organisation_ids:
            return
        by_ref = {unit.skolverket_id: unit for unit in self.units().values()}
        desired = {
            org_id: render.organisation_document(by_ref[org_id]) if org_id in by_ref else None
            for org_id in organisation_ids
        }
        self.writer.apply(Resource.ORGANISATION, desired)


def _chosen(duties: list, pairs: set[tuple[str, str]]) -> dict:
    """Among these duty rows, the one that stands for each (person, unit) of ``pairs`` that has one."""
    found: dict[tuple[str, str], list] = defaultdict(list)
    for duty in duties:
        if (duty.person_id, duty.school_unit_id) in pairs:
            found[(duty.person_id, duty.school_unit_id)].append(duty)
    return {pair: render.chosen_duty(candidates) for pair, candidates in found.items()}


def _group_school_type(school_type: str, unit_types: list[str] | None) -> str:
    """The test's school type; a GY course at a unit that only has VUXGY is a VUXGY group."""
    types = unit_types or []
    if school_type == "GY" and "GY" not in types and "VUXGY" in types:
        return "VUXGY"
    return school_type
