"""The production process list works the push queue (a push job nobody works is never sent)."""

from __future__ import annotations

from pathlib import Path

from dnp.jobs import JOBS_QUEUE
from dnp.jobs import PUSH_QUEUE
from dnp.jobs import WEBHOOKS_QUEUE

PROCFILE = Path(__file__).resolve().parents[3] / "Procfile"


def test_the_procfile_worker_works_every_queue_jobs_are_put_on():
    processes = dict(line.split(":", 1) for line in PROCFILE.read_text().splitlines() if ":" in line)
    queues = processes["worker"].split()
    assert queues[:3] == ["python", "-m", "dnp.worker"]
    assert {WEBHOOKS_QUEUE, PUSH_QUEUE, JOBS_QUEUE} <= set(queues[3:])
