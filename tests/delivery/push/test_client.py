"""The Provisioning API client: when the shared rate slot is taken, and how the slots are spaced."""

from __future__ import annotations

from dnp.delivery.push.client import RATE_KEY
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
    """Two workers' limiters share the spacing: no burst of five, and no six in any second.

    Read from the moments reserved in Redis (on its clock), not from when this process woke up, so a
    loaded machine cannot make the test pass or fail.
    """
    waits: list[float] = []
    first = SharedRateLimit(redis_url, 5, sleep=waits.append)
    second = SharedRateLimit(redis_url, 5, sleep=waits.append)
    first.reset()
    reserved = []
    for number in range(8):  # asked for at once, as eight jobs would
        (first if number % 2 else second).wait()
        reserved.append(float(first.redis.get(RATE_KEY)))
    spacing = (1 + SPACING_MARGIN) / 5
    gaps = [later - earlier for earlier, later in zip(reserved, reserved[1:], strict=False)]
    assert all(gap >= spacing - 1e-5 for gap in gaps), gaps  # never closer: no burst, none six in a second
    # Asked for at once, each call after the first waited its turn (the next free moment, not "now").
    assert waits and all(wait > 0 for wait in waits)
    assert sum(1 for gap in gaps if abs(gap - spacing) < 1e-5) >= len(gaps) - 1  # and not further apart
