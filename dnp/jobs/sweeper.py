"""The periodic sweeper: gathers outbox rows into deliveries and enqueues what is due.

It is the only path from the database to Redis for webhooks, so a Redis outage, a crash between
commit and enqueue, or a killed worker only delays delivery: the next sweep finds the work again.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from dnp.db import get_session
from dnp.jobs import JOBS_QUEUE
from dnp.jobs import WEBHOOKS_QUEUE
from dnp.jobs import get_queue
from dnp.jobs.webhooks import timing_from_config
from dnp.models import BackgroundTask
from dnp.models import Delivery
from dnp.models.types import utcnow
from dnp.services import deliveries

log = logging.getLogger(__name__)


def sweep_once() -> dict[str, int]:
    """One pass: release lost claims, gather new changes, enqueue due deliveries (app context needed)."""
    session = get_session()
    timing = timing_from_config(current_app.config)
    now = utcnow()
    released = deliveries.release_stuck(session, now, timing)
    gathered = deliveries.gather(session, now, timing)
    session.commit()
    due = deliveries.due(session, now)
    enqueued = 0
    if due:
        queue = get_queue(WEBHOOKS_QUEUE)
        attempts_of = dict(
            session.exec(select(Delivery.id, Delivery.attempts).where(Delivery.id.in_(due))).all()
        )
        for delivery_id in due:
            attempts = attempts_of[delivery_id]
            try:
                # result_ttl=0: the job id is free again as soon as it ran, so the next sweep can
                # enqueue the delivery again if it was not claimed (e.g. another was in flight).
                queue.enqueue(
                    "dnp.jobs.webhooks.deliver_webhook",
                    delivery_id,
                    job_id=f"delivery-{delivery_id}-{attempts}",
                    unique=True,
                    result_ttl=0,
                    failure_ttl=24 * 3600,
                    job_timeout=int(float(current_app.config["WEBHOOK_TIMEOUT"]) * 3 + 30),
                )
                enqueued += 1
            except DuplicateJobError:
                continue
    enqueued += _requeue_waiting_tasks(session, now)
    session.close()
    return {"released": released, "gathered": gathered, "due": len(due), "enqueued": enqueued}


def _requeue_waiting_tasks(session, now) -> int:
    """Background tasks still queued after a while (Redis was away at enqueue): enqueue them again."""
    waiting = session.exec(
        select(BackgroundTask.id).where(
            BackgroundTask.status == "queued", BackgroundTask.created < now - timedelta(seconds=30)
        )
    ).all()
    count = 0
    for task_id in waiting:
        try:
            get_queue(JOBS_QUEUE).enqueue(
                "dnp.jobs.tasks.run_background_task",
                task_id,
                job_id=f"task-{task_id}",
                unique=True,
                result_ttl=0,
            )
            count += 1
        except DuplicateJobError:
            continue
    return count


def run_forever(interval: float = 1.0, stop=lambda: False) -> None:
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
