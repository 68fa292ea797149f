"""Deleting register entities through the ingest API."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlmodel import Session

from dnp.audit import trail
from dnp.groups.checks import duty_persons
from dnp.groups.checks import refresh_for_register
from dnp.groups.sync import groups_following
from dnp.groups.sync import remove_deleted_persons
from dnp.groups.sync import sync_group
from dnp.publication import changes as publication
from dnp.register import schemas
from dnp.register.ingest import MAIN_TABLES
from dnp.register.ingest import chunks
from dnp.register.models import Duty
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import RegisterGroup
from dnp.register.models import RegisterGroupMembership
from dnp.register.results import ENTITY_NAMES
from dnp.register.results import IngestRejected
from dnp.register.results import IngestSummary
from dnp.register.results import Problem
from dnp.register.rules import text_problems

# What must go with a person or group, and what keeps an organisation from going.
_PERSON_DEPENDENTS = (
    (RegisterGroupMembership.__table__, "person_id"),
    (Enrolment.__table__, "person_id"),
    (Duty.__table__, "person_id"),
)
_ORGANISATION_USERS = (
    (Enrolment.__table__, "school_unit_id", "inskrivningar"),
    (Duty.__table__, "school_unit_id", "tjänstgöringar"),
    (RegisterGroup.__table__, "school_unit_id", "grupper"),
    (Organisation.__table__, "parent_id", "underordnade organisationer"),
)


def delete_items(kind: str, references: list, actor: str, *, session: Session) -> IngestSummary:
    """Delete the referenced entities, all or nothing; unknown ids are reported, not errors.

    Deleting is idempotent so that a feed may safely retry: ids that are already gone are
    listed as ``notFound``. A person leaves every group; an organisation still in use is refused.
    """
    problems: list[Problem] = []
    ids: list[str] = []
    for index, reference in enumerate(references):
        if not schemas.is_valid("references", reference):
            for path, message in schemas.schema_problems(schemas.reference_validator(), reference):
                problems.append(Problem(kind, index, None, path, message))
            continue
        for path, message in text_problems(reference):
            problems.append(Problem(kind, index, reference["id"], path, message))
        ids.append(reference["id"])
    if problems:
        raise IngestRejected(problems, len(problems))
    ids = list(dict.fromkeys(ids))
    table = MAIN_TABLES[kind]
    connection = session.connection()
    existing: set[str] = set()
    for part in chunks(ids):
        existing.update(connection.execute(select(table.c.id).where(table.c.id.in_(part))).scalars())
    if kind == "organisations":
        problems = _organisations_in_use([i for i in ids if i in existing], session=session)
        if problems:
            raise IngestRejected(problems, len(problems))
    present = [i for i in ids if i in existing]
    if kind == "persons":
        remove_deleted_persons(present, session=session)
    # Test groups following a deleted class lose its pupils: find them before the class goes.
    following = groups_following(present, session=session) if kind == "groups" else []
    # Staff losing a duty get a blocking error in their groups: find them before the duty goes.
    staff = duty_persons(present, session=session) if kind == "duties" else set()
    for part in chunks(present):
        if kind == "persons":
            for dependent, column in _PERSON_DEPENDENTS:
                connection.execute(delete(dependent).where(dependent.c[column].in_(part)))
        if kind == "groups":
            memberships = RegisterGroupMembership.__table__
            connection.execute(delete(memberships).where(memberships.c.group_id.in_(part)))
        connection.execute(delete(table).where(table.c.id.in_(part)))
    trail.record_many(actor, "register.deleted", ENTITY_NAMES[kind], present, session=session)
    summary = IngestSummary()
    summary.deleted[kind] = len(present)
    summary.changed_ids[kind] = present
    summary.not_found = [i for i in ids if i not in existing]
    if kind == "persons":
        publication.persons_changed(present, session=session)
    if kind == "duties":
        publication.duties_changed(present, session=session)
    for group in following:
        sync_group(group, session=session)
    refresh_for_register((), staff, session=session)
    return summary


def _organisations_in_use(ids: list[str], *, session: Session) -> list[Problem]:
    problems = []
    for organisation_id in ids:
        uses = []
        for table, column, label in _ORGANISATION_USERS:
            count = (
                session.connection()
                .execute(select(func.count()).select_from(table).where(table.c[column] == organisation_id))
                .scalar_one()
            )
            if count:
                uses.append(f"{count} {label}")
        if uses:
            message = "organisationen används fortfarande av " + ", ".join(uses) + "; ta bort dem först"
            problems.append(Problem("organisations", None, organisation_id, "id", message))
    return problems
