"""The push pipeline for on-call: what waits, what is in flight, what failed; resend (audited)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import func
from sqlalchemy import or_
from sqlmodel import Session
from sqlmodel import select

from dnp.audit import trail
from dnp.delivery.push import intake
from dnp.delivery.push.models import CHUNK
from dnp.delivery.push.models import ORDER
from dnp.delivery.push.models import PushBatch
from dnp.delivery.push.models import PushObject
from dnp.publication.models import PublishedEntity
from dnp.types import utcnow


@dataclass
class PushStatus:
    """Counts per resource type, and the latest failed calls."""

    waiting: dict[str, int] = field(default_factory=dict)  # dirty: to be sent
    in_flight: dict[str, int] = field(default_factory=dict)  # bulk calls to send or being polled
    refused: dict[str, int] = field(default_factory=dict)  # Error: waits for a change or a resend
    failed: dict[str, int] = field(default_factory=dict)  # temporary errors given up after 3 days
    last_failures: list[PushBatch] = field(default_factory=list)


def status(limit: int = 10, *, session: Session) -> PushStatus:
    """Where the push pipeline stands."""
    result = PushStatus()

    def counts(*where) -> dict[str, int]:
        rows = session.exec(
            select(PushObject.resource, func.count()).where(*where).group_by(PushObject.resource)
        ).all()
        return {resource: count for resource, count in rows}

    result.waiting = counts(PushObject.dirty.is_(True))
    result.refused = counts(PushObject.status == "Error")
    result.failed = counts(PushObject.failed.is_(True))
    rows = session.exec(
        select(PushBatch.resource, func.count())
        .where(PushBatch.status.in_(("new", "polling")))
        .group_by(PushBatch.resource)
    ).all()
    result.in_flight = {resource: count for resource, count in rows}
    result.last_failures = list(
        session.exec(
            select(PushBatch).where(PushBatch.last_error != "").order_by(PushBatch.id.desc()).limit(limit)
        ).all()
    )
    return result


def resend(
    actor: str,
    *,
    failed: bool = False,
    everything: bool = False,
    resource: str | None = None,
    entity_ids: list[str] | None = None,
    session: Session,
) -> int:
    """Send objects again (audited): every refused or failed one, everything (a full sync), or named ones.

    Returns how many objects were marked. The caller commits; the next sweep sends them, in order.
    """
    now = utcnow()
    if everything:
        count = intake.full_sync(now, session=session)
        scope = "all"
    elif failed:
        rows = session.exec(
            select(PushObject.resource, PushObject.entity_id).where(
                or_(PushObject.failed.is_(True), PushObject.status.in_(("Error", "TemporaryError")))
            )
        ).all()
        by_resource: dict[str, list[str]] = {}
        for kind, entity_id in rows:
            by_resource.setdefault(kind, []).append(entity_id)
        for kind, ids in by_resource.items():
            intake.mark_dirty(kind, ids, now, force=True, session=session)
        count, scope = len(rows), "failed"
    elif resource in ORDER and entity_ids:
        intake.mark_dirty(resource, sorted(set(entity_ids)), now, force=True, session=session)
        count, scope = len(set(entity_ids)), f"{resource}:{','.join(sorted(set(entity_ids)))[:200]}"
    else:
        raise ValueError("nothing to resend")
    trail.record(actor, "ops.push_resent", "PushObject", scope, after={"count": count}, session=session)
    return count


def resend_group(actor: str, group_id: str, activity_id: str | None = None, *, session: Session) -> int:
    """Send one test group again: its Group, its Activity and the persons in it (audited)."""
    row = session.get(PublishedEntity, ("Group", group_id))
    if row is None:
        raise ValueError("the group is not published")
    document = json.loads(row.document)
    members = [str(m["person"]["id"]) for m in document.get("groupMemberships") or []]
    now = utcnow()
    intake.mark_dirty("Group", [group_id], now, force=True, session=session)
    if members:
        intake.mark_dirty("Person", sorted(members), now, force=True, session=session)
    if activity_id:
        intake.mark_dirty("Activity", [activity_id], now, force=True, session=session)
    trail.record(
        actor, "ops.push_resent", "Group", group_id, after={"count": len(members) + 2}, session=session
    )
    return len(members) + 1 + (1 if activity_id else 0)


def answers_for(resource: str, ids: list[str], *, session: Session) -> dict[str, PushObject]:
    """Skolverket's last answer per object (for the group pages)."""
    found: dict[str, PushObject] = {}
    ordered = sorted(set(ids))
    for start_at in range(0, len(ordered), CHUNK):
        part = ordered[start_at : start_at + CHUNK]
        rows = session.exec(
            select(PushObject).where(PushObject.resource == resource, PushObject.entity_id.in_(part))
        ).all()
        found.update((o.entity_id, o) for o in rows)
    return found


def troubled(limit: int = 50, *, session: Session) -> list[PushObject]:
    """Objects refused, failed for good, or waiting after a temporary error; newest first."""
    return list(
        session.exec(
            select(PushObject)
            .where(or_(PushObject.failed.is_(True), PushObject.status.in_(("Error", "TemporaryError"))))
            .order_by(PushObject.answered_at.desc(), PushObject.resource, PushObject.entity_id)
            .limit(limit)
        ).all()
    )


def has_been_used(*, session: Session) -> bool:
    """Whether anything was ever pushed (the /ops push section stays after a switch back to pull)."""
    return session.exec(select(PushObject.entity_id).limit(1)).first() is not None
