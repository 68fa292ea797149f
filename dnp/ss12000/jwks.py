"""nutid's signing keys (JWKS) for the SS 12000 API's token check: cached, refreshed, rate limited.

Fails closed: a key set older than ``max_age`` that cannot be refreshed answers 503, never an old key.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable

import httpx
import jwt

from dnp.ss12000.errors import AuthError

logger = logging.getLogger(__name__)

# The only algorithm nutid signs with; a key for anything else never verifies a token.
ALGORITHM = "ES256"


class JwksCache:
    """The current ES256 keys by kid; safe to share between threads."""

    def __init__(
        self,
        url: str,
        *,
        ca_bundle: str | None = None,
        http_client: httpx.Client | None = None,
        timeout: float = 5.0,
        max_age: float = 3600,
        refetch_interval: float = 10,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.url = url
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self.max_age = max_age
        self.refetch_interval = refetch_interval
        self._http_client = http_client
        self._clock = clock
        self._on_change = on_change
        self.lock = threading.Lock()
        self.keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._last_attempt: float | None = None

    def key(self, kid: str) -> jwt.PyJWK:
        """The signing key with this id; fetches the JWKS when stale or the kid is new (rate limited)."""
        # Lock-free fast path: the dict is replaced, never mutated, so a reader sees a whole JWKS.
        keys = self.keys
        if kid in keys and not self._stale():
            return keys[kid]
        with self.lock:
            if self._stale() or kid not in self.keys:
                self._refresh()
            keys = self.keys
        if self._fetched_at is None or self._stale():
            raise AuthError(503, "jwks_unavailable", "the token signing keys cannot be fetched right now")
        if kid not in keys:
            raise AuthError(401, "unknown_key", "the token is signed with an unknown key")
        return keys[kid]

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self.max_age

    def _refresh(self) -> None:
        """Fetch the JWKS again, unless we tried less than ``refetch_interval`` seconds ago."""
        now = self._clock()
        # Rate limit: tokens with made-up kids must not turn into a flood of JWKS requests.
        if self._last_attempt is not None and now - self._last_attempt < self.refetch_interval:
            return
        self._last_attempt = now
        try:
            keys = self._fetch()
        except (httpx.HTTPError, ValueError, OSError) as exc:  # OSError: unreadable CA bundle
            logger.warning("JWKS %s unavailable: %s", self.url, exc)
            return
        self.keys = keys
        self._fetched_at = self._clock()
        self._on_change()

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        if self._http_client is not None:
            response = self._http_client.get(self.url, timeout=self.timeout)
        else:
            context = ssl.create_default_context(cafile=self.ca_bundle)
            with httpx.Client(verify=context, timeout=self.timeout, follow_redirects=False) as client:
                response = client.get(self.url)
        response.raise_for_status()
        return _parse_jwks(response.json())


def _parse_jwks(document: object) -> dict[str, jwt.PyJWK]:
    """Usable ES256 keys of a JWKS by kid; ValueError when there are none."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, jwt.PyJWK] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        # Only P-256 signing keys: an RSA or symmetric key in the set must never verify an ES256 token.
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm=ALGORITHM)
        except jwt.PyJWKError:
            continue
    if not keys:
        raise ValueError("the JWKS holds no usable ES256 key")
    return keys
