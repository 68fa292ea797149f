"""The Provisioning API client: when the shared rate slot is taken, and how the slots are spaced."""

from __future__ import annotations

import time

from dnp.delivery.push.client import SPACING_MARGIN
from dnp.delivery.push.client import SharedRateLimit
from dnp.jobs.push import client_from_config


class _Recording:
    """A rate limit that notes the state of the client's connections whenever a slot is asked for."""

    def __init__(self) -> None:
        self.client = None
        self.seen: list[list[str]] = []

    def wait(self) -> None:
        pool = self.client.http._transport._pool
        self.seen.append([connection.info() for connection in pool.connections])


def test_the_rate_slot_is_taken_once_the_connection_is_open(push_env):
    """A slot spent on a TLS handshake reached Skolverket late, bunched with the next calls: a 429."""
    env = push_env
    with env.app.app_context(), env.session() as session:
        client = client_from_config(env.app.config, session)
    recording = _Recording()
    recording.client, client.rate = client, recording
    job = "00000000-0000-4000-8000-000000000000"
    try:
        first = client.is_completed("persons", job)
        second = client.is_completed("persons", job)  # on the same kept-alive connection
        client.alive()  # not limited: asks for no slot
    finally:
        client.close()
    assert first.status == second.status == 404  # counted by the fake: they were sent
    assert len(recording.seen) == 2
    for connections in recording.seen:
        assert len(connections) == 1 and "HTTP/1.1, ACTIVE" in connections[0]


def test_slots_are_spaced_evenly_across_limiters(redis_url):
    """Two workers' limiters share the spacing: no burst of five, and no six in any second."""
    first, second = SharedRateLimit(redis_url, 5), SharedRateLimit(redis_url, 5)
    first.reset()
    moments = []
    for number in range(8):
        (first if number % 2 else second).wait()
        moments.append(time.monotonic())
    gaps = [later - earlier for earlier, later in zip(moments, moments[1:], strict=False)]
    assert min(gaps) >= (1 + SPACING_MARGIN) / 5 - 0.02
    assert moments[-1] - moments[0] < 7 * 0.3  # and not much slower than the limit allows
