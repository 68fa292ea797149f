"""The RQ worker, with the application loaded before it forks: each job's work horse starts warm.

``rq worker`` would import the app inside every forked horse (seconds per job); here the parent
builds it once and every horse inherits it.

    python -m dnp.worker [--burst] [--worker-ttl N] [--maintenance-interval N] [QUEUE ...]
"""

from __future__ import annotations

import argparse

from redis import Redis
from rq import Queue
from rq import Worker
from rq.serializers import JSONSerializer

from dnp import create_app
from dnp.jobs import JOBS_QUEUE
from dnp.jobs import PUSH_QUEUE
from dnp.jobs import WEBHOOKS_QUEUE
from dnp.jobs import context


def main(argv: list[str] | None = None) -> None:
    """Build the app, then work the queues (webhooks and push first)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("queues", nargs="*", default=[WEBHOOKS_QUEUE, PUSH_QUEUE, JOBS_QUEUE])
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--worker-ttl", type=int, default=420)
    parser.add_argument("--maintenance-interval", type=int, default=600)
    options = parser.parse_args(argv)
    app = create_app()
    context.set_worker_app(app)
    # Import the job modules now, so horses do not.
    import dnp.jobs.push  # noqa: F401
    import dnp.jobs.tasks  # noqa: F401
    import dnp.jobs.webhooks  # noqa: F401

    connection = Redis.from_url(app.config["REDIS_URL"])
    queues = [Queue(name, connection=connection, serializer=JSONSerializer) for name in options.queues]
    worker = Worker(
        queues,
        connection=connection,
        serializer=JSONSerializer,
        worker_ttl=options.worker_ttl,
        maintenance_interval=options.maintenance_interval,
    )
    worker.work(burst=options.burst, with_scheduler=True)


if __name__ == "__main__":
    main()
