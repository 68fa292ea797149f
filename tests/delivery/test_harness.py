"""The delivery tests' own judge of a worker log: a traceback through our code is a bug."""

from __future__ import annotations

from pathlib import Path

import dnp
from tests.delivery.harness import passes_through_our_code

OURS = Path(dnp.__file__).resolve().parent


def traceback(*paths: str) -> str:
    """A logged traceback through ``paths``, as RQ writes it."""
    frames = "".join(f'  File "{path}", line 10, in run\n    call()\n' for path in paths)
    return f"Traceback (most recent call last):\n{frames}redis.exceptions.TimeoutError: boom\n"


def test_a_library_frame_is_not_ours_even_in_a_checkout_in_a_folder_named_dnp():
    checkout = "/tmp/x/dnp"  # every library path of its venv holds "dnp/"
    assert not passes_through_our_code(
        traceback(
            f"{checkout}/.venv/lib/python3.11/site-packages/rq/worker.py",
            f"{checkout}/.venv/lib/python3.11/site-packages/redis/connection.py",
            "/opt/dnp/lib/python3.11/socket.py",
        )
    )


def test_a_frame_in_our_package_is_ours():
    assert passes_through_our_code(
        traceback("/usr/lib/python3.11/site-packages/rq/job.py", str(OURS / "jobs" / "webhooks.py"))
    )


def test_a_relative_or_lookalike_path_is_not_ours():
    assert not passes_through_our_code(traceback("dnp/jobs/webhooks.py", f"{OURS}-old/jobs/webhooks.py"))
