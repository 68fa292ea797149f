"""The start page."""

from __future__ import annotations

from flask import Blueprint
from flask import redirect
from flask import url_for
from flask_login import current_user

from dnp.db import get_session
from dnp.register.stats import register_counts
from dnp.web import render

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """Signed-in users go to their work; others see what the module is (no personal data)."""
    if current_user.is_authenticated:
        rights = current_user.access
        if rights.manages_units:
            return redirect(url_for("groups.index"))
        if rights.operator:
            return redirect(url_for("ops.index"))
        if not rights.has_any_role:
            return redirect(url_for("auth.no_access"))
    return render("home/index.html", counts=register_counts(session=get_session()))
