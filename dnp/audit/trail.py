"""Writing to the append-only audit log."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from dnp.audit.models import AuditEvent
from dnp.common.sql import insert_rows
from dnp.types import utcnow


def record(
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str = "",
    before: dict | None = None,
    after: dict | None = None, *, session: Session,
) -> None:
    """Audit one action; ``before``/``after`` must hold only non-protected fields."""
    record_many(actor, action, entity_type, [entity_id], before=before, after=after, session=session)


def record_many(
    actor: str,
    action: str,
    entity_type: str,
    entity_ids: list[str],
    at: datetime | None = None,
    before: dict | None = None,
    after: dict | None = None, *, session: Session,
) -> None:
    """Audit the same action on many entities in one statement (bulk imports)."""
    if not entity_ids:
        return
    at = at or utcnow()
    insert_rows(
        AuditEvent.__table__,
        [
            {
                "at": at,
                "actor": actor,
                "action": action,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "before": before,
                "after": after,
            }
            for entity_id in entity_ids
        ],
        session=session,
    )
