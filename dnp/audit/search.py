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

from dnp.audit.models import AuditEvent

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
    "group.created": "Provgrupp skapad",
    "group.renamed": "Provgrupp bytte namn",
    "group.pupil_added": "Elev tillagd",
    "group.class_added": "Klass tillagd",
    "group.staff_added": "Personal tillagd",
    "group.pupil_removed": "Elev borttagen",
    "group.staff_removed": "Personal borttagen",
    "group.pupil_joined": "Elev kom med från klassen",
    "group.pupil_left": "Elev lämnade klassen",
    "group.staff_left": "Personal lämnade gruppen",
    "group.following": "Följer klasserna / fast elevlista",
    "group.ready": "Provgrupp klar att skicka",
    "group.withdrawn": "Provgrupp tillbakadragen",
    "group.deleted": "Utkast borttaget",
    "occasion.closed": "Provtillfälle stängt",
    "task.catalog_refresh": "Provaktiviteter hämtade",
    "task.bulk_create": "En grupp per klass",
}
# What the entity types in the log are called in the page (the log itself keeps the code names).
ENTITY_NAMES = {
    "Organisation": "Skolenhet/huvudman",
    "Person": "Person",
    "Duty": "Tjänstgöring",
    "Group": "Klass/grupp i registret",
    "TestGroup": "Provgrupp",
    "TestOccasion": "Provtillfälle",
    "RoleGrant": "Behörighet",
    "LoginSession": "Inloggning",
    "BackgroundTask": "Bakgrundsjobb",
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


def search_audit(wanted: AuditFilter, *, session: Session) -> tuple[list[AuditEvent], int]:
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


def known_values(*, session: Session) -> tuple[list[str], list[str]]:
    """Actions and entity types present in the log, for the filter menus."""
    actions = session.exec(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    types = session.exec(select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)).all()
    return list(actions), list(types)
