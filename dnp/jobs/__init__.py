"""RQ plumbing: Redis connection and queues from the app's configuration."""

from __future__ import annotations

from flask import current_app
from redis import Redis


def redis_connection() -> Redis:
    """Return the app's Redis client (created once per app)."""
    client = current_app.extensions.get("dnp.redis")
    if client is None:
        client = Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)
        current_app.extensions["dnp.redis"] = client
    return client
