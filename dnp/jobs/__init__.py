"""RQ plumbing: Redis connection, queues, enqueue-after-commit (the job functions' app is in ``context``)."""

from __future__ import annotations

import logging

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)
JOBS_QUEUE = "dnp-jobs"
WEBHOOKS_QUEUE = "dnp-webhooks"
PUSH_QUEUE = "dnp-push"
FAILURE_TTL = 7 * 24 * 3600  # failed jobs hold only ids, but need not stay for RQ's default year



def redis_connection() -> Redis:
    """Return the app's Redis client (created once per app)."""
    client = current_app.extensions.get("dnp.redis")
    if client is None:
        client = Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)
        current_app.extensions["dnp.redis"] = client
    return client


def get_queue(name: str = JOBS_QUEUE) -> Queue:
    """An RQ queue with the JSON serializer (job arguments are ids only)."""
    inline = bool(current_app.config.get("JOBS_INLINE"))
    return Queue(name, connection=redis_connection(), serializer=JSONSerializer, is_async=not inline)


def enqueue(function: str, *ids: int | str, queue: str = JOBS_QUEUE, job_id: str | None = None) -> bool:
    """Enqueue ``function(*ids)`` after the caller's commit; False (logged) if Redis is away.

    The database row is the truth: a sweeper re-enqueues what is due, so a failed enqueue
    loses nothing, it only waits.
    """
    try:
        get_queue(queue).enqueue(function, *ids, job_id=job_id, failure_ttl=FAILURE_TTL, result_ttl=600)
    except RedisError as exc:
        log.warning("enqueue %s%s failed: %s", function, ids, type(exc).__name__)
        return False
    return True
