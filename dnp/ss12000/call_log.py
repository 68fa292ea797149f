"""The record of SS 12000 API calls, written in batches off the request path.

Skolverket's client pulls a large municipality in a hundred pages or more; a database transaction per
page for the record alone cost about as much as serving the page from the stored documents. So a call
is noted in memory and a short-lived background thread writes what has gathered about once a second,
in one transaction. What is lost if the process is killed is at most that second of call records (a
graceful stop writes them); the published data itself is never involved.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from dnp.ss12000.models import ApiCall
from dnp.types import utcnow

log = logging.getLogger(__name__)
API_CALL_DAYS = 90
PRUNE_EVERY_SECONDS = 3600
TABLE = ApiCall.__table__


class CallLog:
    """Notes API calls and writes them in batches from a background thread that runs while any wait."""

    def __init__(self, engine: Engine, interval: float = 1.0, max_pending: int = 10_000) -> None:
        self.engine = engine
        self.interval = interval
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._pending: list[dict] = []
        self._writer: threading.Thread | None = None
        self._pid = os.getpid()
        self._pruned_at = float("-inf")
        self._closed = threading.Event()
        atexit.register(self.close)

    def add(self, caller, method: str, endpoint: str, status: int, count: int, milliseconds: int) -> None:
        """Note one call (``caller`` is the verified ``Caller`` or None); it is written within a second."""
        row = {
            "at": utcnow(),
            "caller": (caller.subject if caller else "")[:255],
            "organization_id": (caller.organization_id if caller else "")[:40],
            "method": method,
            "endpoint": endpoint,
            "status": status,
            "count": count,
            "milliseconds": milliseconds,
        }
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent writes what it noted
                self._pid, self._pending, self._writer = os.getpid(), [], None
            if len(self._pending) >= self.max_pending:
                return  # the database has been away for long; the oldest calls are the ones kept
            self._pending.append(row)
            if self._writer is None and not self._closed.is_set():
                self._writer = threading.Thread(target=self._run, name="dnp-call-log", daemon=True)
                self._writer.start()

    def flush(self) -> int:
        """Write what is pending now, in one transaction; the number of calls written."""
        with self._lock:
            rows, self._pending = self._pending, []
        if not rows:
            return 0
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(TABLE), rows)
                if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
                    cutoff = utcnow() - timedelta(days=API_CALL_DAYS)
                    connection.execute(delete(TABLE).where(TABLE.c.at < cutoff))
                    self._pruned_at = time.monotonic()
        except Exception:
            log.exception("Could not write %d API call records; trying again", len(rows))
            with self._lock:
                self._pending = (rows + self._pending)[: self.max_pending]
            return 0
        return len(rows)

    def close(self) -> None:
        """Stop the writer and write what is pending (at exit, and when a test's app goes)."""
        self._closed.set()
        writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join(timeout=5)
        if self._pid == os.getpid():
            self.flush()

    def _run(self) -> None:
        """Write every ``interval`` seconds until nothing is left, then end (a new call starts a new one)."""
        while True:
            self._closed.wait(self.interval)
            written = self.flush()
            with self._lock:
                if not self._pending or self._closed.is_set():
                    self._writer = None
                    return
            if not written:
                self._closed.wait(self.interval)  # the database refused: do not spin
