"""The central setting for protected persons: how they are published (changed in ``changes``)."""

from __future__ import annotations

from sqlmodel import Session

from dnp.publication.models import CentralSetting
from dnp.publication.render import ALIAS
from dnp.publication.render import MARKED
from dnp.publication.render import PROTECTED_MODES

PROTECTED_KEY = "protected_persons"
# Skolverket pseudonymises unless the organiser has attested its own method: marking is the safe default.
DEFAULT_MODE = MARKED
MODE_NAMES = {
    ALIAS: "Skicka aliasuppgifter utan skyddsmarkering",
    MARKED: "Skicka skyddsmarkeringen så att Skolverket pseudonymiserar",
}


def protected_mode(*, session: Session) -> str:
    """The current mode: ``alias`` or ``marked``."""
    row = session.get(CentralSetting, PROTECTED_KEY)
    return row.value if row is not None and row.value in PROTECTED_MODES else DEFAULT_MODE


def setting_row(*, session: Session) -> CentralSetting | None:
    """The stored setting (who changed it, when), or None while it has its default."""
    return session.get(CentralSetting, PROTECTED_KEY)
