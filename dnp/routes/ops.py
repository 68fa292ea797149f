"""On-call operations: queues, workers, failed jobs, requeue (operator role; no personal data)."""

from __future__ import annotations

import contextlib
import re

from flask import Blueprint
from flask import abort
from flask import request
from flask_login import current_user
from redis.exceptions import RedisError

from dnp.auth.models import Role
from dnp.common.request_input import database_id
from dnp.common.wording import counted
from dnp.db import get_session
from dnp.delivery import ops
from dnp.delivery.push import actions as push_actions
from dnp.delivery.push import ops as push_ops
from dnp.delivery.push.client import WAITS_KEY
from dnp.delivery.push.method import METHOD_NAMES
from dnp.delivery.push.method import transfer_method
from dnp.groups.tasks import recent_tasks
from dnp.jobs import inspect
from dnp.jobs import redis_connection
from dnp.login import require_role
from dnp.types import utcnow
from dnp.web import render

bp = Blueprint("ops", __name__, url_prefix="/ops")
STALE_HEARTBEAT_SECONDS = 90
# Skolverket's ids are UUIDs; anything else cannot name a pushed object.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _page(message: str | None = None, status: int = 200, error: str | None = None):
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
        backlog=ops.backlog(session=get_session()),
        troubled=ops.troubled(session=get_session()),
        push=_push_context(connection),
        now=utcnow(),
        stale_after=STALE_HEARTBEAT_SECONDS,
        message=message,
        error=error,
    )


def _push_context(connection) -> dict | None:
    """The push pipeline for the page (ids and counts only), when push is the method or has been used."""
    session = get_session()
    method = transfer_method(session=session)
    if method != "push" and not push_ops.has_been_used(session=session):
        return None
    waits = None
    if connection is not None:
        with contextlib.suppress(RedisError, ValueError):
            waits = int(connection.get(WAITS_KEY) or 0)
    return {
        "method": METHOD_NAMES[method],
        "status": push_ops.status(session=session),
        "troubled": push_ops.troubled(session=session),
        "rate_waits": waits,
    }


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
    session = get_session()
    count = inspect.requeue_failed_audited(redis_connection(), current_user.eppn, job_id, session=session)
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
    count = ops.requeue_dead(current_user.eppn, delivery_id, utcnow(), session=session)
    session.commit()
    return _page(message=f"{counted(count, 'leverans', 'leveranser')} skickas igen.")


@bp.post("/push/skicka-om")
@require_role("operator")
def push_resend_failed():
    """Send every object Skolverket refused or that failed to Skolverket again; audited."""
    session = get_session()
    count = push_actions.resend_failed(current_user.access, session=session)
    session.commit()
    return _page(message=f"{counted(count, 'objekt', 'objekt')} skickas om till Skolverket.")


@bp.post("/push/objekt/skicka-om")
@require_role("operator")
def push_resend_object():
    """Send one Person, Duty, Group or Activity (``resource``, ``entity_id``) again; audited."""
    resource = request.form.get("resource", "")
    entity_id = request.form.get("entity_id", "")
    unknown = "Det objektet finns inte bland sändningarna till Skolverket."
    if not _UUID.fullmatch(entity_id):
        return _page(error=unknown, status=422)
    session = get_session()
    try:
        push_actions.resend_object(current_user.access, resource, entity_id.lower(), session=session)
    except LookupError:
        return _page(error=unknown, status=422)
    session.commit()
    return _page(message=f"{resource} {entity_id} skickas om till Skolverket.")


@bp.post("/push/grupp/skicka-om")
@require_role("operator")
def push_resend_group():
    """Send one test group (``group_id``) again with its activity and members; audited."""
    group_id = request.form.get("group_id", "").strip()
    # Typed by the operator: a mistake is said on the page (422 is swapped in), never echoed back.
    unknown = "Det finns ingen skickad provgrupp med det id:t."
    if not _UUID.fullmatch(group_id):
        return _page(error=unknown, status=422)
    session = get_session()
    try:
        count = push_actions.resend_group(current_user.access, group_id.lower(), session=session)
    except LookupError:
        return _page(error=unknown, status=422)
    session.commit()
    return _page(message=f"Gruppen {group_id} skickas om: {counted(count, 'objekt', 'objekt')}.")
