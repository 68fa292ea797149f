"""On-call operations: queues, workers, failed jobs, requeue (operator role; no personal data)."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import request
from flask_login import current_user
from sqlmodel import select

from dnp.audit import trail
from dnp.auth.models import Role
from dnp.common.request_input import database_id
from dnp.common.wording import counted
from dnp.db import get_session
from dnp.delivery import attempts
from dnp.delivery import ops
from dnp.groups.models import BackgroundTask
from dnp.jobs import inspect
from dnp.jobs import redis_connection
from dnp.login import require_role
from dnp.types import utcnow
from dnp.web import render

bp = Blueprint("ops", __name__, url_prefix="/ops")
STALE_HEARTBEAT_SECONDS = 90


def _page(message: str | None = None, status: int = 200):
    connection = redis_connection()
    tasks = get_session().exec(select(BackgroundTask).order_by(BackgroundTask.id.desc()).limit(10)).all()
    return render(
        "ops/index.html",
        block="ops_panel",
        status=status,
        queues=inspect.queue_states(connection),
        workers=inspect.worker_states(connection),
        failed=inspect.failed_jobs(connection),
        tasks=tasks,
        backlog=ops.backlog(session=get_session()),
        troubled=ops.troubled(session=get_session()),
        now=utcnow(),
        stale_after=STALE_HEARTBEAT_SECONDS,
        message=message,
    )


@bp.get("/")
@require_role(Role.OPERATOR)
def index():
    """Queue depths, workers and their heartbeats, failed jobs; refreshes itself."""
    return _page()


@bp.post("/jobb/ko-om")
@require_role(Role.OPERATOR)
def requeue():
    """Requeue one failed job (``job_id``) or all of them; audited."""
    job_id = request.form.get("job_id") or None
    count = inspect.requeue_failed(redis_connection(), job_id)
    session = get_session()
    trail.record(
        current_user.eppn, "ops.requeued", "Job", job_id or "*", after={"count": count}, session=session
    )
    session.commit()
    return _page(message=f"{count} jobb lades tillbaka i kön.")


@bp.post("/leveranser/ko-om")
@require_role(Role.OPERATOR)
def requeue_deliveries():
    """Give dead deliveries (``delivery_id``, or all) a fresh three days of attempts; audited."""
    raw = request.form.get("delivery_id", "")
    delivery_id = database_id(raw) if raw else None
    if raw and delivery_id is None:
        abort(404)  # no such delivery can exist; never read as "all"
    session = get_session()
    count = attempts.requeue_dead(utcnow(), delivery_id, session=session)
    trail.record(
        current_user.eppn,
        "ops.deliveries_requeued",
        "Delivery",
        raw or "*",
        after={"count": count},
        session=session,
    )
    session.commit()
    return _page(message=f"{counted(count, 'leverans', 'leveranser')} skickas igen.")
