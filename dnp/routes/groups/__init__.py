"""Test groups: overview per school unit, creating groups, the editor (blueprint ``groups``)."""

from flask import Blueprint

bp = Blueprint("groups", __name__, url_prefix="/provgrupper")

from dnp.routes.groups import editor  # noqa: E402,F401  (registers the views)
from dnp.routes.groups import overview  # noqa: E402,F401
