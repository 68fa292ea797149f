"""Test groups: overview per school unit, creating groups, the editor (blueprint ``groups``).

The views are in ``overview`` and ``editor``; the app factory imports both, which adds their rules.
"""

from flask import Blueprint

bp = Blueprint("groups", __name__, url_prefix="/provgrupper")
