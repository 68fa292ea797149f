"""Push timing from the settings (the sweeper and the push jobs read it alike)."""

from __future__ import annotations

from collections.abc import Mapping

from dnp.delivery.push import pipeline


def timing_from_config(config: Mapping) -> pipeline.Timing:
    """Push timing from the ``DNP_PROVISIONING_*`` settings and the webhooks' coalescing and time scale."""
    scale = float(config["WEBHOOK_TIME_SCALE"])
    timeout = float(config["PROVISIONING_TIMEOUT"])
    return pipeline.Timing(
        coalesce_seconds=float(config["WEBHOOK_COALESCE_SECONDS"]),
        scale=scale,
        # Longer than any step can take: a call, its 429 waits and a token fetch, twice over.
        lease_seconds=4 * timeout + 60 * scale + 10,
        poll_seconds=float(config["PROVISIONING_POLL_SECONDS"]),
        max_bytes=int(config["PROVISIONING_MAX_BYTES"]),
    )
