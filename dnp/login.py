"""Flask-Login glue: the signed-in user, signing in and out, role checks for views."""

from __future__ import annotations

import functools
from datetime import timedelta
from urllib.parse import urlsplit

from flask import abort
from flask import current_app
from flask import redirect
from flask import request
from flask import session as cookie_session
from flask import url_for
from flask_login import LoginManager
from flask_login import UserMixin
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user

from dnp.auth import roles as access
from dnp.auth import sessions
from dnp.db import get_session
from dnp.web import htmx_redirect

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = None  # the server-side session record is the protection


class CurrentUser(UserMixin):
    """The person behind a live server-side session."""

    def __init__(self, session_id: str, eppn: str, rights: access.Access, display_name: str):
        self.session_id = session_id
        self.eppn = eppn
        self.access = rights
        self.display_name = display_name or eppn

    def get_id(self) -> str:
        """Flask-Login stores the server-side session id, never the EPPN."""
        return self.session_id


@login_manager.user_loader
def _load_user(session_id: str) -> CurrentUser | None:
    db = get_session()
    config = current_app.config
    record = sessions.load_session(
        db,
        session_id,
        idle=timedelta(minutes=int(config["SESSION_IDLE_MINUTES"])),
        absolute=timedelta(hours=int(config["SESSION_MAX_HOURS"])),
    )
    if db.dirty:  # an ended or touched session is saved now, whatever the view then does
        db.commit()
    if record is None:
        return None
    names = access.display_names({record.eppn}, session=db)
    return CurrentUser(
        session_id, record.eppn, access.access_for(record.eppn, session=db), names.get(record.eppn, "")
    )


@login_manager.unauthorized_handler
def _unauthorized():
    target = url_for("auth.login", next=safe_next(request.full_path))
    if request.htmx:
        return htmx_redirect(target, status=401)
    return redirect(target)


MAX_NEXT = 2000


def safe_next(value: str | None) -> str:
    """The redirect target after signing in: one of our own absolute paths, else ``/``.

    Used for ``?next=`` of every login (the development form, and SAML, which keeps it server-side
    behind the RelayState). Anything that is not plainly a local path falls back to ``/``: control
    characters and whitespace (CR/LF would split the Location header; browsers drop tab and newline,
    so ``/\t/evil`` becomes ``//evil``), invisible characters, ``//``, a backslash, a scheme.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT:
        return "/"
    if not value.isprintable() or any(char.isspace() for char in value):
        return "/"
    value = value.rstrip("?")
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc:
        return "/"
    return value


def sign_in(eppn: str, method: str, display_name: str = "", next_path: str | None = None):
    """Start a server-side session for ``eppn`` and redirect to ``next_path`` (our paths only)."""
    db = get_session()
    eppn = access.normalise_eppn(eppn)  # whatever case the IdP or the form used
    cookie_session.clear()  # a fresh session on login: no fixation
    session_id = sessions.start_session(eppn, method, display_name, session=db)
    db.commit()
    rights = access.access_for(eppn, session=db)
    login_user(CurrentUser(session_id, eppn, rights, access.display_names({eppn}, session=db).get(eppn, "")))
    if not rights.has_any_role:
        return redirect(url_for("auth.no_access"))
    return redirect(safe_next(next_path))


def sign_out() -> None:
    """End the server-side session and clear the cookie."""
    if current_user.is_authenticated:
        db = get_session()
        sessions.end_session(current_user.session_id, session=db)
        db.commit()
    logout_user()
    cookie_session.clear()


def require_role(*roles: str):
    """View decorator: signed in, and holding one of ``roles`` (403 otherwise)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not current_user.access.has_any_role:
                return redirect(url_for("auth.no_access"))
            if not any(current_user.access.has(role) for role in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def require_unit(unit_id: str | None) -> None:
    """404 unless the current user may manage ``unit_id`` (others' units do not exist for them)."""
    if not current_user.is_authenticated or not current_user.access.may_manage(unit_id):
        abort(404)
