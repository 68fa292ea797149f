"""The periodic sweeper: gathers outbox rows into deliveries and enqueues what is due.

It is the only path from the database to Redis for webhooks, so a Redis outage, a crash between
commit and enqueue, or a killed worker only delays delivery: the next sweep finds the work again.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError
from rq.job import JobStatus
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from sqlmodel import select

from dnp.db import get_session
from dnp.delivery import attempts
from dnp.delivery import deliveries
from dnp.delivery.models import Delivery
from dnp.delivery.push import intake
from dnp.delivery.push import planning
from dnp.delivery.push import sending
from dnp.delivery.push import timing as push_timing
from dnp.delivery.push.method import is_push
from dnp.delivery.push.models import PushBatch
from dnp.groups.checks import refresh_due
from dnp.groups.models import BackgroundTask
from dnp.groups.models import TaskStatus
from dnp.jobs import JOBS_QUEUE
from dnp.jobs import PUSH_QUEUE
from dnp.jobs import WEBHOOKS_QUEUE
from dnp.jobs import get_queue
from dnp.types import utcnow

log = logging.getLogger(__name__)
# A job in one of these states will still run: an enqueue under its id is rightly skipped.
STILL_TO_RUN = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)
_reported: set[str] = set()  # job ids whose skipped enqueue was logged (once each, not every sweep)


def sweep_once() -> dict[str, int]:
    """One pass: release lost claims, gather new changes, enqueue due deliveries (app context needed)."""
    session = get_session()
    timing = deliveries.timing_from_config(current_app.config)
    now = utcnow()
    checked = refresh_due(session=session)  # validation summaries that register writes marked due
    session.commit()
    if is_push(session=session):
        # Push instead of webhooks: Skolverket is not told to pull (webhooks wait until pull again).
        queue = get_queue(PUSH_QUEUE)
        result = sweep_push(now, lambda job_id, *args: _enqueue_push(queue, job_id, *args), session=session)
        result["enqueued"] = result["push_enqueued"] + _requeue_waiting_tasks(session, now)
        result["released"], result["checked"] = 0, checked
        session.close()
        return result
    released = attempts.release_stuck(now, timing, session=session)
    gathered = deliveries.gather(now, timing, session=session)
    session.commit()
    due = attempts.due(now, session=session)
    enqueued = 0
    if due:
        queue = get_queue(WEBHOOKS_QUEUE)
        rows = session.exec(
            select(Delivery.id, Delivery.job_key, Delivery.attempts).where(Delivery.id.in_(due))
        ).all()
        for delivery_id, job_key, tries in sorted(rows):
            # result_ttl=0: the job id is free again as soon as it ran, so the next sweep can
            # enqueue the delivery again if it was not claimed (e.g. another was in flight).
            enqueued += _enqueue_unique(
                queue,
                attempts.job_id(delivery_id, job_key, tries),
                "dnp.jobs.webhooks.deliver_webhook",
                delivery_id,
                job_key,
                result_ttl=0,
                failure_ttl=24 * 3600,
                job_timeout=int(float(current_app.config["WEBHOOK_TIMEOUT"]) * 3 + 30),
                orphaned_after=timing.stuck_after_seconds,
            )
    enqueued += _requeue_waiting_tasks(session, now)
    session.close()
    return {
        "released": released,
        "gathered": gathered,
        "due": len(due),
        "enqueued": enqueued,
        "checked": checked,
    }


def _enqueue_unique(
    queue, job_id: str, function: str, *args, orphaned_after: float | None = None, **options
) -> int:
    """Enqueue under ``job_id`` unless Redis holds a job of that id that is still to run; 1 if enqueued.

    A held id is logged (once per job, ids only). A held job that will never run again (failed,
    stopped, cancelled, or left from before a database restore) would block the work for as long as
    Redis keeps it, so it is replaced. With ``orphaned_after``, so is a job marked started that long
    ago: the work is due again, so the job never got as far as claiming it, and its worker was stopped
    before it could mark the job failed (RQ would only notice at its next maintenance, minutes later).
    """
    try:
        queue.enqueue(function, *args, job_id=job_id, unique=True, **options)
        return 1
    except DuplicateJobError:
        pass
    held = queue.fetch_job(job_id)
    status = held.get_status(refresh=False) if held is not None else None
    orphan = status == JobStatus.STARTED and _orphaned(held, orphaned_after)
    if status in STILL_TO_RUN and not orphan:
        if job_id not in _reported:
            if len(_reported) > 10_000:
                _reported.clear()
            _reported.add(job_id)
            log.info("enqueue skipped: job %s is already in Redis (%s)", job_id, status.value)
        return 0
    state = "started long ago" if orphan else status.value if status is not None else "unknown"
    log.warning("job %s was held by Redis (%s) but will not run: replaced", job_id, state)
    if held is not None:
        held.delete()
    try:
        queue.enqueue(function, *args, job_id=job_id, unique=True, **options)
    except DuplicateJobError:
        return 0  # another sweeper replaced it first
    return 1


def _enqueue_push(queue, job_id: str, function: str, *args) -> int:
    """Enqueue one push step under its unique job id (a held one that will still run is skipped)."""
    timeout = int(float(current_app.config["PROVISIONING_TIMEOUT"]) * 4 + 60)
    return _enqueue_unique(
        queue, job_id, function, *args, result_ttl=0, failure_ttl=24 * 3600, job_timeout=timeout
    )


def _orphaned(job, after: float | None) -> bool:
    """True for a started job that began more than ``after`` seconds ago (never, without ``after``)."""
    if after is None or job.started_at is None:
        return False
    started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=UTC)
    return utcnow() - started > timedelta(seconds=after)


def _requeue_waiting_tasks(session, now) -> int:
    """Background tasks still queued after a while (Redis was away at enqueue): enqueue them again."""
    waiting = session.exec(
        select(BackgroundTask.id).where(
            BackgroundTask.status == TaskStatus.QUEUED, BackgroundTask.created < now - timedelta(seconds=30)
        )
    ).all()
    queue = get_queue(JOBS_QUEUE) if waiting else None
    return sum(
        _enqueue_unique(queue, f"task-{task_id}", "dnp.jobs.tasks.run_background_task", task_id, result_ttl=0)
        for task_id in waiting
    )


def run_forever(interval: float = 0.5, stop=lambda: False) -> None:
    """Sweep every ``interval`` seconds until ``stop()``; outages are logged and waited out."""
    while not stop():
        started = time.monotonic()
        try:
            result = sweep_once()
            if result["enqueued"] or result["released"]:
                log.info("sweep: %s", result)
        except (RedisError, SQLAlchemyError) as exc:
            log.warning("sweep failed, will retry: %s", type(exc).__name__)
            get_session().rollback()
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def _enqueue_due(session: Session, now: datetime, enqueue) -> int:
    """Enqueue every due push step (a step already held by Redis is skipped); commits."""
    enqueued = 0
    for batch in sending.due_batches(now, session=session):
        function = "dnp.jobs.push.send_batch" if batch.status == "new" else "dnp.jobs.push.poll_batch"
        enqueued += enqueue(push_job_id(batch), function, batch.id, batch.key)
    session.commit()
    return enqueued


def push_job_id(batch: PushBatch) -> str:
    """The RQ job id of one step of one batch: unique per step, and across database restores."""
    return f"push-{batch.id}-{batch.key}-{batch.status}-{batch.attempts}-{batch.polls}"


def sweep_push(now: datetime, enqueue, *, session: Session) -> dict[str, int]:
    """Gather, plan, and enqueue every due step (``enqueue(job_id, function, batch_id, key)``); commits."""
    timing = push_timing.timing_from_config(current_app.config)
    released = sending.release_lost(now, session=session)
    gathered = intake.gather(now, timing, session=session)
    session.commit()
    # What is due already (polls, retries, calls planned last sweep) goes out before planning, which
    # can take seconds in a full sync: the workers are not left idle meanwhile. Then the new calls.
    enqueued = _enqueue_due(session, now, enqueue)
    planned = planning.plan(now, timing, session=session)
    session.commit()
    if planned:
        enqueued += _enqueue_due(session, now, enqueue)
    return {
        "push_released": released,
        "push_gathered": gathered,
        "push_planned": len(planned),
        "push_enqueued": enqueued,
    }
