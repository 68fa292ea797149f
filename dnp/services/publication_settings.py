"""The central setting for protected persons, audited; changing it republishes them at once."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from dnp.audit import trail
from dnp.publication.models import CentralSetting
from dnp.publication.models import PublishedEntity
from dnp.register.models import Person
from dnp.services.publication_render import ALIAS
from dnp.services.publication_render import MARKED
from dnp.services.publication_render import PROTECTED_MODES
from dnp.types import utcnow

PROTECTED_KEY = "protected_persons"
# Skolverket pseudonymises unless the organiser has attested its own method: marking is the safe default.
DEFAULT_MODE = MARKED
MODE_NAMES = {
    ALIAS: "Skicka aliasuppgifter utan skyddsmarkering",
    MARKED: "Skicka skyddsmarkeringen så att Skolverket pseudonymiserar",
}


def protected_mode(session: Session) -> str:
    """The current mode: ``alias`` or ``marked``."""
    row = session.get(CentralSetting, PROTECTED_KEY)
    return row.value if row is not None and row.value in PROTECTED_MODES else DEFAULT_MODE


def setting_row(session: Session) -> CentralSetting | None:
    """The stored setting (who changed it, when), or None while it has its default."""
    return session.get(CentralSetting, PROTECTED_KEY)


def set_protected_mode(session: Session, actor: str, mode: str) -> dict:
    """Change the mode, audit it and republish every published protected person; caller commits."""
    if mode not in PROTECTED_MODES:
        raise ValueError(mode)
    before = protected_mode(session)
    if before == mode:
        return {}
    row = session.get(CentralSetting, PROTECTED_KEY) or CentralSetting(key=PROTECTED_KEY, value=mode)
    row.value, row.changed_by, row.changed_at = mode, actor, utcnow()
    session.add(row)
    session.flush()
    trail.record(
        session, actor, "setting.changed", "CentralSetting", PROTECTED_KEY, {"value": before}, {"value": mode}
    )
    from dnp.services.publication import Publisher

    protected = session.execute(
        select(Person.id)
        .join(PublishedEntity, (PublishedEntity.id == Person.id) & (PublishedEntity.resource == "Person"))
        .where(Person.security_marking != "Ingen")
    ).scalars()
    return Publisher(session).refresh(person_ids=list(protected))
