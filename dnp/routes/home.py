"""The start page."""

from __future__ import annotations

from flask import Blueprint

from dnp.db import get_session
from dnp.services.register_stats import register_counts
from dnp.web import render

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    """Start page: what the module is and how big the register is (no personal data)."""
    return render("home/index.html", counts=register_counts(get_session()))
