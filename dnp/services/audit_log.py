"""Reading the audit log (central administrators)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select

from dnp.models import AuditEvent

STOCKHOLM = ZoneInfo("Europe/Stockholm")
PAGE_SIZE = 50

ACTION_NAMES = {
    "register.created": "Registerpost skapad",
    "register.updated": "Registerpost ändrad",
    "register.deleted": "Registerpost borttagen",
    "access.granted": "Behörighet given",
    "access.revoked": "Behörighet borttagen",
    "auth.login": "Inloggning",
    "auth.logout": "Utloggning",
}


@dataclass
class AuditFilter:
    """What to look for; empty fields match everything."""

    actor: str = ""
    action: str = ""
    entity_type: str = ""
    entity_id: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=STOCKHOLM)


def search_audit(session: Session, wanted: AuditFilter) -> tuple[list[AuditEvent], int]:
    """One page of matching events, newest first, and the total number of matches."""
    query = select(AuditEvent)
    if wanted.actor:
        query = query.where(AuditEvent.actor.ilike(f"%{wanted.actor}%"))
    if wanted.action:
        query = query.where(AuditEvent.action == wanted.action)
    if wanted.entity_type:
        query = query.where(AuditEvent.entity_type == wanted.entity_type)
    if wanted.entity_id:
        query = query.where(AuditEvent.entity_id == wanted.entity_id)
    if wanted.since:
        query = query.where(AuditEvent.at >= _day_start(wanted.since))
    if wanted.until:
        query = query.where(AuditEvent.at < _day_start(wanted.until + timedelta(days=1)))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = max(1, wanted.page)
    rows = session.exec(
        query.order_by(AuditEvent.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return list(rows), total


def known_values(session: Session) -> tuple[list[str], list[str]]:
    """Actions and entity types present in the log, for the filter menus."""
    actions = session.exec(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    types = session.exec(select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)).all()
    return list(actions), list(types)
