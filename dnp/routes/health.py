"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import jsonify
from sqlalchemy import text

from dnp.db import get_engine
from dnp.jobs import redis_connection

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database and Redis are reachable."""
    checks = {}
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason is for operators
        current_app.logger.warning("readyz: database unreachable: %s", type(exc).__name__)
        checks["database"] = "unreachable"
    try:
        redis_connection().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        current_app.logger.warning("readyz: redis unreachable: %s", type(exc).__name__)
        checks["redis"] = "unreachable"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
