"""Rule 5: a late webhook first re-stamps what it announces, so the client's 5-minute look-back finds it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery.models import Delivery
from dnp.publication import store
from dnp.publication.models import Change
from dnp.publication.models import DeletedEntity
from dnp.publication.models import Outbox

CHUNK = 500


def restamp(delivery: Delivery, resource_types: list[str], now: datetime, *, session: Session) -> int:
    """Set ``meta.modified`` (and deletion times) of everything the delivery covers to ``now``.

    Not a change: no outbox rows are written, so it announces nothing new.
    """
    rows = session.exec(
        select(Outbox.resource, Outbox.entity_id, Outbox.change).where(
            Outbox.id > delivery.first_outbox_id,
            Outbox.id <= delivery.last_outbox_id,
            Outbox.resource.in_(resource_types),
        )
    ).all()
    changed: dict[str, set[str]] = defaultdict(set)
    deleted: dict[str, set[str]] = defaultdict(set)
    for resource, entity_id, change in rows:
        (deleted if change == Change.DELETED else changed)[resource].add(entity_id)
    touched = 0
    for resource, ids in changed.items():
        # The stored document carries its meta: the publication store rewrites both.
        touched += store.restamp(resource, sorted(ids), now, session=session)
    for resource, ids in deleted.items():
        values = sorted(ids)
        for start in range(0, len(values), CHUNK):
            result = session.execute(
                update(DeletedEntity)
                .where(
                    DeletedEntity.resource == resource,
                    DeletedEntity.entity_id.in_(values[start : start + CHUNK]),
                )
                .values(deleted_at=now)
            )
            touched += result.rowcount
    delivery.restamped_at = now
    session.add(delivery)
    return touched
