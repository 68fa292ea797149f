"""Central settings for every school unit: protected persons, and what Skolverket fetched and reported."""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user

from dnp.auth.models import Role
from dnp.db import get_session
from dnp.delivery.push.actions import choose_method
from dnp.delivery.push.method import METHOD_NAMES
from dnp.delivery.push.method import METHODS
from dnp.delivery.push.method import method_setting
from dnp.delivery.push.method import transfer_method
from dnp.login import require_role
from dnp.publication.changes import change_protected_mode
from dnp.publication.render import PROTECTED_MODES
from dnp.publication.settings import MODE_NAMES
from dnp.publication.settings import protected_mode
from dnp.publication.settings import setting_row
from dnp.ss12000 import feedback
from dnp.web import is_htmx
from dnp.web import render

bp = Blueprint("settings", __name__, url_prefix="/installningar")


@bp.get("/")
@require_role(Role.CENTRAL_ADMIN)
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
        method=transfer_method(session=session),
        method_names=METHOD_NAMES,
        method_setting=method_setting(session=session),
    )


@bp.get("/overforingsmetod")
@require_role("central_admin")
def confirm_method():
    """The confirmation step before switching method: what changes, and a button that does it."""
    session = get_session()
    current = transfer_method(session=session)
    chosen = request.args.get("method", "")
    if chosen not in METHODS:
        flash("Välj en av överföringsmetoderna.", "error")
        return redirect(url_for("settings.index", _anchor="transfer-method"), 303)
    if chosen == current:
        flash(f"Överföringsmetoden är redan: {METHOD_NAMES[chosen]}.", "success")
        return redirect(url_for("settings.index", _anchor="transfer-method"), 303)
    return render(
        "settings/confirm_method.html",
        block="confirm",
        inline=is_htmx(),
        chosen=chosen,
        current=current,
        method_names=METHOD_NAMES,
    )


@bp.post("/overforingsmetod")
@require_role("central_admin")
def set_method():
    """Switch the transfer method (audited); to push, everything ready is sent, in order."""
    chosen = request.form.get("method", "")
    if chosen not in METHODS:
        flash("Välj en av överföringsmetoderna.", "error")
        return redirect(url_for("settings.index", _anchor="transfer-method"), 303)
    session = get_session()
    changed = choose_method(current_user.access, chosen, session=session)
    session.commit()
    if not changed:
        flash(f"Överföringsmetoden var redan: {METHOD_NAMES[chosen]}.", "success")
    elif chosen == "push":
        flash(
            "Överföringsmetoden är nu: Vi skickar (Provisioning API). "
            "Allt som är klart skickas till Skolverket.",
            "success",
        )
    else:
        flash(
            "Överföringsmetoden är nu: Skolverket hämtar (SS 12000). Vi slutar skicka; det Skolverket redan "
            "har ligger kvar.",
            "success",
        )
    return redirect(url_for("settings.index", _anchor="transfer-method"), 303)


@bp.post("/skyddade-personer")
@require_role(Role.CENTRAL_ADMIN)
def protected_persons():
    """Change how protected persons are sent; they are republished in the same transaction."""
    mode = request.form.get("mode", "")
    if mode not in PROTECTED_MODES:
        flash("Välj ett av alternativen.", "error")
        return redirect(url_for("settings.index"), 303)
    session = get_session()
    changed = change_protected_mode(current_user.access, mode, session=session)
    session.commit()
    flash(f"Inställningen är sparad. {changed} skyddade personer skickas om till Skolverket.", "success")
    return redirect(url_for("settings.index"), 303)
