"""On-call operations: queues, workers, failed jobs, requeue (operator role; no personal data)."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import request
from flask_login import current_user

from dnp.common.request_input import database_id
from dnp.common.wording import counted
from dnp.db import get_session
from dnp.delivery import ops
from dnp.groups.tasks import recent_tasks
from dnp.jobs import inspect
from dnp.jobs import redis_connection
from dnp.login import require_role
from dnp.types import utcnow
from dnp.web import render

bp = Blueprint("ops", __name__, url_prefix="/ops")
STALE_HEARTBEAT_SECONDS = 90


def _page(message: str | None = None, status: int = 200):
    connection = redis_connection()
    tasks = recent_tasks(session=get_session())
    return render(
        "ops/index.html",
        block="ops_panel",
        status=status,
        queues=inspect.queue_states(connection),
        workers=inspect.worker_states(connection),
        failed=inspect.failed_jobs(connection),
        tasks=tasks,
        backlog=ops.backlog(get_session()),
        troubled=ops.troubled(get_session()),
        now=utcnow(),
        stale_after=STALE_HEARTBEAT_SECONDS,
        message=message,
    )


@bp.get("/")
@require_role("operator")
def index():
    """Queue depths, workers and their heartbeats, failed jobs; refreshes itself."""
    return _page()


@bp.post("/jobb/ko-om")
@require_role("operator")
def requeue():
    """Requeue one failed job (``job_id``) or all of them; audited."""
    job_id = request.form.get("job_id") or None
    session = get_session()
    count = inspect.requeue_failed_audited(redis_connection(), current_user.eppn, job_id, session=session)
    session.commit()
    return _page(message=f"{count} jobb lades tillbaka i kön.")


@bp.post("/leveranser/ko-om")
@require_role("operator")
def requeue_deliveries():
    """Give dead deliveries (``delivery_id``, or all) a fresh three days of attempts; audited."""
    raw = request.form.get("delivery_id", "")
    delivery_id = database_id(raw) if raw else None
    if raw and delivery_id is None:
        abort(404)  # no such delivery can exist; never read as "all"
    session = get_session()
    count = ops.requeue_dead(current_user.eppn, delivery_id, utcnow(), session=session)
    session.commit()
    return _page(message=f"{counted(count, 'leverans', 'leveranser')} skickas igen.")
