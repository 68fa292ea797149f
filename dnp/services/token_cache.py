"""Our webhook token, shared by every worker process through Redis (encrypted), so each forked
job does not fetch a new one over mutual TLS."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis import Redis
from redis.exceptions import RedisError

from dnp.services.auth_token import TokenClient


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dnp token cache").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _expires_at(token: str) -> float | None:
    """The JWT's ``exp`` (not verified: the auth server is who we trust for it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, ValueError, TypeError):
        return None


class SharedTokens:
    """``get_token``/``invalidate`` like TokenClient, with Redis as a cache shared by processes."""

    def __init__(self, client: TokenClient, redis: Redis, secret_key: str, identity: str):
        self.client = client
        self.redis = redis
        self.fernet = _fernet(secret_key)
        self.key = "dnp:webhook-token:" + hashlib.sha256(identity.encode()).hexdigest()[:16]

    def get_token(self) -> str:
        """A cached token if one is still good for a while, else a fresh one from the auth server."""
        try:
            stored = self.redis.get(self.key)
            if stored:
                return self.fernet.decrypt(stored).decode()
        except (RedisError, InvalidToken):
            pass
        token = self.client.get_token()
        expires = _expires_at(token)
        if expires:
            ttl = int((expires - time.time()) * 0.9)
            if ttl > 0:
                with contextlib.suppress(RedisError):
                    self.redis.setex(self.key, ttl, self.fernet.encrypt(token.encode()))
        return token

    def invalidate(self, token: str | None = None) -> None:
        """Forget the token (a target answered 401)."""
        self.client.invalidate(token)
        with contextlib.suppress(RedisError):
            self.redis.delete(self.key)
