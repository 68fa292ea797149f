"""Running a producer a few steps ahead in a background thread (a large import parses and checks the
next batch while the database writes the last one)."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterable
from collections.abc import Iterator

_DONE = object()
_POLL = 0.1  # seconds: how often a blocked producer looks whether the consumer has gone
# While the producer computes, the consumer gets the GIL back after each database round trip only when
# the producer is made to let go: after 5 ms by default, which for thousands of round trips cost more than
# the overlap gained. 0.5 ms keeps both busy.
SWITCH_INTERVAL = 0.0005


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def ahead(items: Iterable, depth: int = 2) -> Iterator:
    """Yield ``items`` in order while a thread computes up to ``depth`` of them in advance.

    Memory stays bounded by ``depth``. An exception in the producer is raised here, at the point the
    consumer reaches it; when the consumer stops early (an error, ``break``), the producer stops too.
    Worth it when the consumer mostly waits on I/O (which releases the GIL) and the producer computes.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def put(value) -> bool:
        while not stopped.is_set():
            try:
                handoff.put(value, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failed(error))
            return
        put(_DONE)

    thread = threading.Thread(target=produce, name="dnp-ahead", daemon=True)
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, SWITCH_INTERVAL))  # process-wide: restored when done
    thread.start()
    try:
        while True:
            value = handoff.get()
            if value is _DONE:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield value
    finally:
        stopped.set()
        thread.join()
        sys.setswitchinterval(previous)
