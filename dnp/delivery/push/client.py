"""HTTP to Skolverket's Provisioning API: our provisioning token, the shared rate limit, 429 and 403 handling.

* Token: the GNAP client over mutual TLS (``dnp.connection.token``) asking for ``provisioning-api`` at
  ``DNP_PROVISIONING_LOCATION``. Jobs run in short-lived forked work horses, so the token is shared in
  Redis until shortly before it expires; a ``403`` drops it and one new token is fetched.
* Rate: at most ``DNP_PROVISIONING_RATE`` write and status calls per second, spaced evenly: each call
  reserves the next free moment in Redis (one atomic script, so all workers share it) and waits for it.
  The slot is taken when the connection is open and the request is about to be written (httpcore's
  ``trace`` hook), not before the TLS handshake: a grant spent on a slow handshake reached Skolverket
  bunched with the next ones and drew a ``429``. Calls are spaced a little wider than ``1/rate`` so
  that the few milliseconds between our write and Skolverket's count never put six in one second.
* ``429``: wait ``x-ratelimit-reset`` seconds (may be fractional) and try again, a few times.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

import httpx
from redis import Redis
from redis.exceptions import RedisError

from dnp.connection.token import TokenClient
from dnp.connection.token import TokenError

log = logging.getLogger(__name__)
ACCESS_TYPE = "provisioning-api"
TOKEN_KEY = "dnp:push:token"  # noqa: S105 - a Redis key name, not a secret
RATE_KEY = "dnp:push:next-call"
# Spacing beyond 1/rate: room for the jitter between writing a request and Skolverket counting it.
SPACING_MARGIN = 0.03
# Reserve the next free moment (seconds on Redis's clock) and return how long to wait for it. One
# script, so two workers never take the same moment; the key expires once the moment has passed.
_RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, free)
local after = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.6f', after), 'PX', math.ceil((after - now) * 1000) + 1000)
return string.format('%.6f', slot - now)
"""
WAITS_KEY = "dnp:push:rate-waits"
MAX_429_WAITS = 5
LONGEST_WAIT = 10.0  # seconds; a longer x-ratelimit-reset is left to the sweeper


@dataclass
class Reply:
    """One call's outcome: HTTP status (None if no answer), parsed body, headers, or what went wrong."""

    status: int | None
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def reset(self) -> float:
        """``x-ratelimit-reset`` as seconds (declared integer, documented as 0.5: read as a decimal)."""
        try:
            return max(0.0, float(self.headers.get("x-ratelimit-reset", "1")))
        except ValueError:
            return 1.0

    def message(self) -> str:
        """A short text for the operator: Skolverket's LogEntry messages, or our own description."""
        if self.error:
            return self.error
        if isinstance(self.body, list):
            texts = [f"{e.get('id')}: {e.get('message')}" for e in self.body if isinstance(e, dict)]
            if texts:
                return f"HTTP {self.status}: " + "; ".join(texts)[:500]
        return f"HTTP {self.status}"


class SharedToken:
    """A provisioning token fetched by ``TokenClient`` and shared through Redis by every worker."""

    def __init__(self, client: TokenClient, redis: Redis) -> None:
        self.client = client
        self.redis = redis
        self._lock = threading.Lock()

    def get(self) -> str:
        """The shared token, or a new one (stored for 90 % of its lifetime)."""
        with self._lock:
            try:
                cached = self.redis.get(TOKEN_KEY)
            except RedisError:
                cached = None
            if cached:
                return cached.decode()
            token = self.client.get_token()
            ttl = int(self.client.renew_in())
            if ttl > 0:
                # Redis away: not shared this time; each job then fetches its own.
                with contextlib.suppress(RedisError):
                    self.redis.set(TOKEN_KEY, token, ex=ttl)
            return token

    def drop(self, token: str) -> None:
        """Forget a token Skolverket refused (only if it is still the shared one)."""
        self.client.invalidate(token)
        try:
            if self.redis.get(TOKEN_KEY) == token.encode():
                self.redis.delete(TOKEN_KEY)
        except RedisError:
            pass


class SharedRateLimit:
    """At most ``rate`` calls per second across all processes using the same Redis, spaced evenly."""

    _clients: dict[str, Redis] = {}

    def __init__(self, redis_url: str, rate: int, sleep: Callable[[float], None] = time.sleep) -> None:
        redis = self._clients.get(redis_url)
        if redis is None:
            redis = self._clients[redis_url] = Redis.from_url(redis_url)
        self.redis = redis
        self.reserve = redis.register_script(_RESERVE)
        self.spacing = (1.0 + SPACING_MARGIN) / max(1, rate)
        self.sleep = sleep

    def wait(self) -> None:
        """Block until the moment reserved for this call has come."""
        delay = float(self.reserve(keys=[RATE_KEY], args=[f"{self.spacing:.6f}"]))
        if delay > 0:
            self.sleep(delay)

    def reset(self) -> None:
        """Forget reserved moments (tests)."""
        self.redis.delete(RATE_KEY)


class ProvisioningClient:
    """Calls to one Provisioning API base URL."""

    def __init__(
        self,
        base_url: str,
        token: SharedToken,
        rate: SharedRateLimit,
        *,
        ca_bundle: str | None = None,
        timeout: float = 10.0,
        redis: Redis | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.rate = rate
        self.redis = redis
        self.sleep = sleep
        verify = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        self.http = httpx.Client(verify=verify, timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def bulk(self, path: str, action: str, body: str) -> Reply:
        """``POST /{res}/bulk?updateIfExists=true`` (creates and updates) or ``POST /{res}/bulk/delete``."""
        url = f"{path}/bulk/delete" if action == "delete" else f"{path}/bulk?updateIfExists=true"
        return self.call("POST", url, body.encode("utf-8"))

    def is_completed(self, path: str, job_id: str) -> Reply:
        """``GET /{res}/bulk/jobs/{id}/isCompleted`` (a bare boolean)."""
        return self.call("GET", f"{path}/bulk/jobs/{job_id}/isCompleted")

    def job(self, path: str, job_id: str) -> Reply:
        """``GET /{res}/bulk/jobs/{id}``: every object's status."""
        return self.call("GET", f"{path}/bulk/jobs/{job_id}")

    def alive(self) -> Reply:
        """``GET /alive`` (the settings page's connection test)."""
        return self.call("GET", "alive", limited=False)

    def call(self, method: str, path: str, content: bytes | None = None, limited: bool = True) -> Reply:
        """One call under the shared rate limit, with a token refetch on 403 and waits on 429."""
        refetched = False
        waits = 0
        while True:
            try:
                token = self.token.get()
            except TokenError as error:
                return Reply(None, error=f"Ingen token: {error.message_sv}")
            reply = self._send(method, path, content, token, limited)
            if reply.status == 403 and not refetched:
                refetched = True
                self.token.drop(token)
                continue
            if reply.status == 429 and waits < MAX_429_WAITS and reply.reset <= LONGEST_WAIT:
                waits += 1
                self._count_wait()
                self.sleep(reply.reset)
                continue
            return reply

    def _send(self, method: str, path: str, content: bytes | None, token: str, limited: bool) -> Reply:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"

        def trace(event: str, info: dict) -> None:
            # The connection is open (TCP and TLS done): take the slot right before the request is written.
            if limited and event.endswith("send_request_headers.started"):
                self.rate.wait()

        try:
            response = self.http.request(
                method,
                f"{self.base_url}/{path}",
                content=content,
                headers=headers,
                extensions={"trace": trace},
            )
        except httpx.TimeoutException:
            return Reply(None, error="Skolverket svarade inte i tid.")
        except httpx.HTTPError as exc:
            return Reply(None, error=f"Skolverket gick inte att nå ({type(exc).__name__}).")
        try:
            body = response.json() if response.content else None
        except (ValueError, json.JSONDecodeError):
            body = None
        return Reply(response.status_code, body, {k.lower(): v for k, v in response.headers.items()})

    def _count_wait(self) -> None:
        if self.redis is None:
            return
        with contextlib.suppress(RedisError):
            self.redis.incr(WAITS_KEY)
