"""Background tasks users start (catalog refresh, one group per class): run with progress."""

from __future__ import annotations

import json
import logging

from dnp.common.wording import counted
from dnp.db import get_session
from dnp.groups.bulk import create_per_class
from dnp.groups.catalog import refresh_catalog
from dnp.groups.models import BackgroundTask
from dnp.jobs.context import app_context
from dnp.types import utcnow

log = logging.getLogger(__name__)


def run_background_task(task_id: int) -> None:
    """Run a queued task once; a task already finished is left alone (at-least-once delivery)."""
    with app_context() as app:
        session = get_session()
        task = session.get(BackgroundTask, task_id)
        if task is None or task.status in ("done", "failed"):
            return
        task.status = "running"
        session.add(task)
        session.commit()

        def progress(done: int, total: int, message: str) -> None:
            # The job owns the transaction: the work done so far is committed with its progress.
            task.done, task.total, task.message = done, total, message
            session.add(task)
            session.commit()

        try:
            task.message = _dispatch(session, app, task, json.loads(task.parameters or "{}"), progress)
            task.status = "done"
        except Exception as exc:
            session.rollback()
            log.exception("background task %s (%s) failed", task_id, task.kind)
            task = session.get(BackgroundTask, task_id)
            task.status, task.message = "failed", f"Misslyckades: {type(exc).__name__}"
        task.finished = utcnow()
        session.add(task)
        session.commit()


def _dispatch(session, app, task: BackgroundTask, parameters: dict, progress) -> str:
    if task.kind == "catalog_refresh":
        progress(0, 2, "Hämtar provaktiviteter från Skolverket …")
        count, source, problem = refresh_catalog(session, app.config["OPEN_DATA_URL"])
        session.commit()
        if source == "demo":
            return (
                f"Skolverket gick inte att nå ({problem}). Demokatalogen med "
                f"{counted(count, 'provaktivitet', 'provaktiviteter')} används."
            )
        return f"Klart: {counted(count, 'provaktivitet', 'provaktiviteter')} hämtade från Skolverket."
    if task.kind == "bulk_create":
        created = create_per_class(task.created_by, parameters, progress, session=session)
        return f"Klart: {counted(created, 'provgrupp', 'provgrupper')} skapades."
    raise ValueError(task.kind)
