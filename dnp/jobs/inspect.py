"""What RQ is doing: queue depths, failed jobs and workers (ids and counts only, no personal data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq import Worker
from rq.registry import FailedJobRegistry
from rq.registry import ScheduledJobRegistry
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlmodel import Session

from dnp.audit import trail
from dnp.jobs import JOBS_QUEUE
from dnp.jobs import WEBHOOKS_QUEUE

QUEUE_NAMES = (WEBHOOKS_QUEUE, JOBS_QUEUE)


@dataclass
class QueueState:
    """Counts for one queue."""

    name: str
    queued: int
    started: int
    scheduled: int
    failed: int


@dataclass
class WorkerState:
    """One RQ worker as Redis last saw it."""

    name: str
    hostname: str
    pid: int | None
    state: str
    queues: list[str]
    last_heartbeat: datetime | None
    current_job: str | None


@dataclass
class FailedJob:
    """A job RQ gave up on: which function, which ids, why (the exception type and message)."""

    id: str
    queue: str
    function: str
    arguments: list
    ended_at: datetime | None
    error: str


def queue_states(connection: Redis) -> list[QueueState] | None:
    """Counts per queue, or None when Redis cannot be reached."""
    try:
        states = []
        for name in QUEUE_NAMES:
            queue = Queue(name, connection=connection, serializer=JSONSerializer)
            states.append(
                QueueState(
                    name=name,
                    queued=queue.count,
                    started=StartedJobRegistry(queue=queue).count,
                    scheduled=ScheduledJobRegistry(queue=queue).count,
                    failed=FailedJobRegistry(queue=queue).count,
                )
            )
        return states
    except RedisError:
        return None


def worker_states(connection: Redis) -> list[WorkerState] | None:
    """Every registered worker with its heartbeat, or None when Redis cannot be reached."""
    try:
        workers = Worker.all(connection=connection)
        return [
            WorkerState(
                name=worker.name,
                hostname=worker.hostname or "",
                pid=worker.pid,
                state=str(worker.get_state()),
                queues=worker.queue_names(),
                last_heartbeat=worker.last_heartbeat,
                current_job=worker.get_current_job_id(),
            )
            for worker in sorted(workers, key=lambda w: w.name)
        ]
    except RedisError:
        return None


def failed_jobs(connection: Redis, limit: int = 50) -> list[FailedJob]:
    """The most recent failed jobs of every queue (arguments are ids by design)."""
    found = []
    try:
        for name in QUEUE_NAMES:
            queue = Queue(name, connection=connection, serializer=JSONSerializer)
            registry = FailedJobRegistry(queue=queue)
            for job in queue.job_class.fetch_many(
                registry.get_job_ids(0, limit - 1), connection=connection, serializer=JSONSerializer
            ):
                if job is None:
                    continue
                error = (job.latest_result().exc_string if job.latest_result() else "") or ""
                found.append(
                    FailedJob(
                        id=job.id,
                        queue=name,
                        function=job.func_name,
                        arguments=list(job.args),
                        ended_at=job.ended_at,
                        error=error.strip().splitlines()[-1][:300] if error.strip() else "",
                    )
                )
    except RedisError:
        return []
    return found


def requeue_failed_audited(connection: Redis, actor: str, job_id: str | None, *, session: Session) -> int:
    """Requeue one failed job (or all, with None) for ``actor`` and record it in the audit log.

    Returns how many went back; the caller commits the audit record.
    """
    count = requeue_failed(connection, job_id)
    trail.record(session, actor, "ops.requeued", "Job", job_id or "*", after={"count": count})
    return count


def requeue_failed(connection: Redis, job_id: str | None = None) -> int:
    """Requeue one failed job (by id) or all of them; returns how many went back to their queue."""
    count = 0
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=connection, serializer=JSONSerializer)
        registry = FailedJobRegistry(queue=queue)
        for failed_id in registry.get_job_ids():
            if job_id is None or failed_id == job_id:
                registry.requeue(failed_id)
                count += 1
    return count
