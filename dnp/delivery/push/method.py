"""The central choice of transfer method: Skolverket pulls (SS 12000) or we push (Provisioning API)."""

from __future__ import annotations

from sqlmodel import Session

from dnp.audit import trail
from dnp.delivery.push import intake
from dnp.publication.models import CentralSetting
from dnp.types import utcnow

METHOD_KEY = "transfer_method"
PULL, PUSH = "pull", "push"
METHODS = (PULL, PUSH)
METHOD_NAMES = {
    PULL: "Skolverket hämtar (SS 12000)",
    PUSH: "Vi skickar (Provisioning API)",
}


def transfer_method(*, session: Session) -> str:
    """The current method; pull until someone chooses push."""
    row = session.get(CentralSetting, METHOD_KEY)
    return row.value if row is not None and row.value in METHODS else PULL


def method_setting(*, session: Session) -> CentralSetting | None:
    """The stored choice (who made it and when), or None while the method is the default pull."""
    return session.get(CentralSetting, METHOD_KEY)


def is_push(*, session: Session) -> bool:
    """Whether data is pushed (the SS 12000 API then refuses, and no webhooks are sent)."""
    return transfer_method(session=session) == PUSH


def set_transfer_method(actor: str, method: str, *, session: Session) -> bool:
    """Switch method, audited; caller commits. False if it already was ``method``.

    To push: the push cursor starts on the outbox in this same transaction (nothing committed after the
    switch is missed) and everything ready is marked to be sent (a full sync, in order). To pull: pushing
    stops; what Skolverket holds stays as it is.
    """
    if method not in METHODS:
        raise ValueError(method)
    before = transfer_method(session=session)
    if before == method:
        return False
    row = session.get(CentralSetting, METHOD_KEY, with_for_update=True) or CentralSetting(
        key=METHOD_KEY, value=method
    )
    now = utcnow()
    row.value, row.changed_by, row.changed_at = method, actor, now
    session.add(row)
    session.flush()
    if method == PUSH:
        intake.start(now, session=session)
    trail.record(
        actor,
        "setting.changed",
        "CentralSetting",
        METHOD_KEY,
        {"value": before},
        {"value": method},
        session=session,
    )
    return True
