"""Push timing and limits, from the settings (the sweeper and the push jobs read it alike)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from dnp.delivery.deliveries import BACKOFF
from dnp.delivery.deliveries import GIVE_UP_AFTER


@dataclass(frozen=True)
class Timing:
    """Push timing and limits; ``scale`` < 1 makes days pass in seconds (tests), as for webhooks."""

    coalesce_seconds: float = 5
    scale: float = 1.0
    lease_seconds: float = 90
    poll_seconds: float = 2
    pending_limit_seconds: float = 1800  # a job still Pending after this is given up and resent
    max_bytes: int = 200_000

    def backoff(self, attempts: int) -> timedelta:
        """Wait before the next attempt, after ``attempts`` failed ones (the webhooks' steps)."""
        seconds = BACKOFF[min(attempts, len(BACKOFF)) - 1] if attempts else 0
        return timedelta(seconds=seconds * self.scale)

    @property
    def give_up_after(self) -> timedelta:
        """How long temporary failures are retried before the object is marked failed (3 days)."""
        return GIVE_UP_AFTER * self.scale

    @property
    def pending_limit(self) -> timedelta:
        """How long a job may stay Pending before its objects are sent again."""
        return timedelta(seconds=self.pending_limit_seconds * self.scale)


def timing_from_config(config: Mapping) -> Timing:
    """Push timing from the ``DNP_PROVISIONING_*`` settings and the webhooks' coalescing and time scale."""
    scale = float(config["WEBHOOK_TIME_SCALE"])
    timeout = float(config["PROVISIONING_TIMEOUT"])
    return Timing(
        coalesce_seconds=float(config["WEBHOOK_COALESCE_SECONDS"]),
        scale=scale,
        # Longer than any step can take: a call, its 429 waits and a token fetch, twice over.
        lease_seconds=4 * timeout + 60 * scale + 10,
        poll_seconds=float(config["PROVISIONING_POLL_SECONDS"]),
        max_bytes=int(config["PROVISIONING_MAX_BYTES"]),
    )
