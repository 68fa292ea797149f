"""Central settings for every school unit: protected persons, and what Skolverket fetched and reported."""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user

from dnp.db import get_session
from dnp.login import require_role
from dnp.publication.changes import change_protected_mode
from dnp.publication.render import PROTECTED_MODES
from dnp.publication.settings import MODE_NAMES
from dnp.publication.settings import protected_mode
from dnp.publication.settings import setting_row
from dnp.ss12000 import feedback
from dnp.web import render

bp = Blueprint("settings", __name__, url_prefix="/installningar")


@bp.get("/")
@require_role("central_admin")
def index():
    """The settings page: one section per topic (protected persons, Skolverket's fetches and reports)."""
    session = get_session()
    return render(
        "settings/index.html",
        mode=protected_mode(session=session),
        setting=setting_row(session=session),
        mode_names=MODE_NAMES,
        fetches=feedback.fetch_status(session=session),
        log_entries=feedback.log_entries(session=session),
        statistics=feedback.statistics_entries(session=session),
    )


@bp.post("/skyddade-personer")
@require_role("central_admin")
def protected_persons():
    """Change how protected persons are sent; they are republished in the same transaction."""
    mode = request.form.get("mode", "")
    if mode not in PROTECTED_MODES:
        flash("Välj ett av alternativen.", "error")
        return redirect(url_for("settings.index"), 303)
    session = get_session()
    changed = change_protected_mode(current_user.eppn, mode, session=session)
    session.commit()
    flash(f"Inställningen är sparad. {changed} skyddade personer skickas om till Skolverket.", "success")
    return redirect(url_for("settings.index"), 303)
