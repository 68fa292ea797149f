"""Recording background tasks users start; the job runs them (ids only in job arguments)."""

from __future__ import annotations

import json

from sqlmodel import Session
from sqlmodel import select

from dnp.audit import trail
from dnp.groups.models import BackgroundTask


def start_task(actor: str, kind: str, parameters: dict | None = None, *, session: Session) -> BackgroundTask:
    """Create a queued task; the caller commits, then enqueues ``run_background_task(task.id)``."""
    task = BackgroundTask(
        kind=kind, created_by=actor, parameters=json.dumps(parameters or {}), message="I kö …"
    )
    session.add(task)
    session.flush()
    trail.record(session, actor, f"task.{kind}", "BackgroundTask", str(task.id), after=parameters)
    return task


def recent_tasks(limit: int = 10, *, session: Session) -> list[BackgroundTask]:
    """The latest background tasks, newest first (for operators: kinds and states, no personal data)."""
    return list(session.exec(select(BackgroundTask).order_by(BackgroundTask.id.desc()).limit(limit)).all())
