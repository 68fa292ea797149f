"""Server-side login sessions: started at sign-in, looked up per request, ended at sign-out."""

from __future__ import annotations

import secrets
from datetime import datetime
from datetime import timedelta

from sqlmodel import Session

from dnp.audit import trail
from dnp.auth.models import LoginSession
from dnp.auth.models import UserAccount
from dnp.auth.roles import normalise_eppn
from dnp.auth.roles import register_person
from dnp.types import utcnow

# last_seen is written at most this often: a page view must not always write.
_SEEN_EVERY = timedelta(seconds=60)


def start_session(eppn: str, method: str, display_name: str = "", *, session: Session) -> str:
    """Record a sign-in and return the new server-side session id.

    The IdP's name is kept only for someone the register does not mark as protected: for a protected
    person it is the real name, and DNP shows the alias instead.
    """
    eppn = normalise_eppn(eppn)
    now = utcnow()
    person = register_person(eppn, session=session)
    if person is not None and person.is_protected:
        display_name = ""
    account = session.get(UserAccount, eppn)
    if account is None:
        account = UserAccount(eppn=eppn, display_name=display_name, first_login=now)
    if display_name or (person is not None and person.is_protected):
        account.display_name = display_name
    account.last_login = now
    session.add(account)
    session_id = secrets.token_urlsafe(32)
    session.add(LoginSession(id=session_id, eppn=eppn, method=method, created=now, last_seen=now))
    trail.record(session, eppn, "auth.login", "LoginSession", session_id[:8], after={"method": method})
    return session_id


def load_session(
    session: Session, session_id: str, idle: timedelta, absolute: timedelta, now: datetime | None = None
) -> LoginSession | None:
    """The live session for ``session_id``; ended, idle or too old sessions are None (and marked ended).

    It may end the session or note when it was last seen; the caller commits.
    """
    now = now or utcnow()
    record = session.get(LoginSession, session_id)
    if record is None or record.ended is not None:
        return None
    if now - record.last_seen > idle or now - record.created > absolute:
        record.ended = now
        session.add(record)
        return None
    if now - record.last_seen > _SEEN_EVERY:
        record.last_seen = now
        session.add(record)
    return record


def end_session(session_id: str, *, session: Session) -> None:
    """Log out: the session id is dead from now on, whatever cookie carries it."""
    record = session.get(LoginSession, session_id)
    if record is not None and record.ended is None:
        record.ended = utcnow()
        session.add(record)
        trail.record(session, record.eppn, "auth.logout", "LoginSession", session_id[:8])
