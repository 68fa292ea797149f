"""Signing in (development form; SAML lives in the saml blueprint), out, and the no-access page."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user

from dnp.common import identifiers
from dnp.db import get_session
from dnp.demo.users import demo_users
from dnp.login import safe_next
from dnp.login import sign_in
from dnp.login import sign_out
from dnp.web import render

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.get("/login")
def login():
    """The sign-in page: Skolfederation, and in development the demo form."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    return render("auth/login.html", next=safe_next(request.args.get("next")))


@bp.route("/dev-login", methods=["GET", "POST"])
def dev_login():
    """Development only: sign in as any EPPN without an IdP."""
    if current_app.config["ENV"] != "development":
        abort(404)
    if request.method == "POST":
        eppn = request.form.get("eppn", "").strip()
        if not identifiers.is_eppn(eppn) or len(eppn) > 255:
            users = demo_users(session=get_session())
            return render("auth/dev_login.html", users=users, error="Ange en EPPN.", status=422)
        return sign_in(eppn, "dev", next_path=request.form.get("next"))
    next_path = safe_next(request.args.get("next"))
    return render("auth/dev_login.html", users=demo_users(session=get_session()), next=next_path)


@bp.post("/logout")
def logout():
    """Sign out everywhere this session was used."""
    sign_out()
    flash("Du är utloggad.", "success")
    return redirect(url_for("auth.login"))


@bp.get("/no-access")
def no_access():
    """Signed in, but no role has been granted."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.access.has_any_role:
        return redirect(url_for("home.index"))
    return render("auth/no_access.html", status=403)
