"""Recording background tasks users start; the job runs them (ids only in job arguments)."""

from __future__ import annotations

import json

from sqlmodel import Session

from dnp.audit import trail
from dnp.groups.models import BackgroundTask
from dnp.groups.models import TaskKind


def start_task(
    actor: str, kind: TaskKind, parameters: dict | None = None, *, session: Session
) -> BackgroundTask:
    """Create a queued task; the caller commits, then enqueues ``run_background_task(task.id)``."""
    task = BackgroundTask(
        kind=kind, created_by=actor, parameters=json.dumps(parameters or {}), message="I kö …"
    )
    session.add(task)
    session.flush()
    trail.record(actor, f"task.{kind}", "BackgroundTask", str(task.id), after=parameters, session=session)
    return task
