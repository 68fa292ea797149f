"""The application a job function runs in: the current one, or one app per worker process.

Only the job functions (``tasks``, ``webhooks``) and the worker import this: it imports the app factory,
which must not import it back.
"""

from __future__ import annotations

import contextlib

from flask import Flask
from flask import current_app
from flask import has_app_context

from dnp import create_app

_worker_app: Flask | None = None


def set_worker_app(app: Flask) -> None:
    """Use ``app`` for jobs in this process (and the horses it forks)."""
    global _worker_app
    _worker_app = app


@contextlib.contextmanager
def app_context():
    """An application context for a job: the current one, or one app per worker process."""
    global _worker_app
    if has_app_context():
        yield current_app
        return
    if _worker_app is None:
        _worker_app = create_app()
    with _worker_app.app_context():
        yield _worker_app
