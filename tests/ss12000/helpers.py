"""Building and changing test groups straight through the services, as the editor would."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import func
from sqlalchemy import select
from sqlmodel import Session

from dnp.auth.roles import Access
from dnp.groups import changes
from dnp.groups.models import TestGroup
from dnp.publication.models import Outbox
from dnp.publication.models import PublishedEntity
from tests.groups_fixtures import MA9

ADMIN = "admin@kommun.se"
RIGHTS = Access(eppn=ADMIN, central_admin=True)


@contextmanager
def session_for(app):
    """A session that commits when the block ends."""
    with Session(app.extensions["dnp.engine"], expire_on_commit=False) as session:
        yield session
        session.commit()


def make_group(app, unit_id: str, classes=(), pupils=(), staff=(), ready=True, name="MA åk 9 grupp") -> str:
    """A test group for MA åk 9 at the unit, from classes and/or single pupils, with staff; its id."""
    with session_for(app) as session:
        group = changes.create_group(
            ADMIN, RIGHTS, unit_id, MA9, "VT 2027", name, list(classes), session=session
        )
        for person_id in pupils:
            changes.add_pupil(ADMIN, group, person_id, session=session)
        for person_id in staff:
            changes.add_staff(ADMIN, group, person_id, session=session)
        if ready:
            changes.mark_ready(ADMIN, group, session=session)
        return group.id


def change_group(app, group_id: str, action: str, *args) -> None:
    """Call a group change (``withdraw``, ``remove_member``, ``rename``…) on a group."""
    with session_for(app) as session:
        group = session.get(TestGroup, group_id)
        getattr(changes, action)(ADMIN, group, *args, session=session)


def snapshot(app) -> dict[tuple[str, str], tuple]:
    """(resource, id) → (modified, hash) of everything published."""
    with session_for(app) as session:
        rows = session.execute(
            select(
                PublishedEntity.resource,
                PublishedEntity.id,
                PublishedEntity.modified,
                PublishedEntity.content_hash,
            )
        ).all()
    return {(resource, entity_id): (modified, digest) for resource, entity_id, modified, digest in rows}


def outbox_count(app) -> int:
    """How many outbox rows exist."""
    with session_for(app) as session:
        return session.execute(select(func.count()).select_from(Outbox)).scalar_one()
