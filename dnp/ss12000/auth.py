"""Verify the bearer JWT that Skolverket's SS 12000 client sends to our SS 12000 API.

Status codes: 401 when the token is missing, malformed, forged, expired, not yet valid, signed with
anything but ES256 or by an unknown key, or meant for another issuer or audience. 403 when the token
is genuine but is not for us: another ``organization_id``, or ``requested_access`` without an
``ss12000-api`` entry whose ``locations`` holds our location exactly (a malformed ``requested_access``
is treated the same way: a signed token that does not clearly grant us is a permission problem).
503 ``jwks_unavailable`` when the signing keys cannot be fetched: that is our outage, not the
caller's fault, and it must never turn into acceptance.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import jwt

from dnp.ss12000.errors import AuthError
from dnp.ss12000.jwks import ALGORITHM
from dnp.ss12000.jwks import JwksCache

logger = logging.getLogger(__name__)

ACCESS_TYPE = "ss12000-api"
REQUIRED_CLAIMS = ["exp", "nbf", "iat", "iss", "aud"]
# Claims passed on to the caller; anything else (unknown, possibly personal) is dropped.
SAFE_CLAIMS = (
    "iss", "aud", "sub", "exp", "nbf", "iat", "version", "auth_source", "entity_id",
    "organization_id", "source", "requested_access", "scopes",
)  # fmt: skip
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
MAX_TOKEN_LENGTH = 8192
# Verified tokens remembered (Skolverket's client sends one token for a whole pull of many pages).
VERIFIED_CACHE_SIZE = 256


@dataclass(frozen=True)
class Caller:
    """Who called: the verified token's subject, organisation and non-sensitive claims."""

    subject: str
    organization_id: str
    claims: dict


class JwtVerifier:
    """Checks bearer tokens against nutid's JWKS and our expected claims; safe to share between threads."""

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        organization_id: str,
        location: str,
        ca_bundle: str | None = None,
        leeway: float = 30,
        http_client: httpx.Client | None = None,
        timeout: float = 5.0,
        jwks_max_age: float = 3600,
        refetch_interval: float = 10,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.organization_id = organization_id
        self.location = location
        self.leeway = leeway
        self._wall_clock = wall_clock
        self.jwks = JwksCache(
            jwks_url,
            ca_bundle=ca_bundle,
            http_client=http_client,
            timeout=timeout,
            max_age=jwks_max_age,
            refetch_interval=refetch_interval,
            clock=clock,
            on_change=self._forget_verified,
        )
        # token → (caller, kid, exp, nbf); emptied whenever the key set changes.
        self._verified: dict[str, tuple[Caller, str, float, float]] = {}

    @classmethod
    def from_config(cls, config: Mapping) -> JwtVerifier:
        """Build from the app configuration (the ``DNP_*`` keys without prefix)."""
        return cls(
            jwks_url=config["SS12000_JWKS_URL"],
            issuer=config["SS12000_ISSUER"],
            audience=config["SS12000_AUDIENCE"],
            organization_id=config["SS12000_ORGANIZATION_ID"],
            location=config["SS12000_LOCATION"],
            ca_bundle=config.get("TLS_CA_BUNDLE"),
        )

    def verify(self, authorization_header: str | None) -> Caller:
        """The caller behind an ``Authorization`` header, or AuthError."""
        token = _bearer_token(authorization_header)
        remembered = self._verified.get(token)
        if remembered is not None:
            return self._recheck(token, *remembered)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError(401, "malformed_token", "the bearer token is not a JWT") from None
        if header.get("alg") != ALGORITHM:
            raise AuthError(401, "unsupported_algorithm", f"only {ALGORITHM} tokens are accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError(401, "malformed_token", "the token header has no key id (kid)")
        key = self.jwks.key(kid)
        claims = self._decode(token, key)
        self._check_grant(claims)
        subject = claims.get("sub") or claims.get("entity_id")
        caller = Caller(
            subject=subject if isinstance(subject, str) else "",
            organization_id=claims["organization_id"],
            claims={name: claims[name] for name in SAFE_CLAIMS if name in claims},
        )
        self._remember(token, key, caller, kid, claims)
        return caller

    def _remember(self, token: str, key: jwt.PyJWK, caller: Caller, kid: str, claims: dict) -> None:
        """Keep a verified token, unless the key set changed while it was being checked."""
        with self.jwks.lock:  # the key set is replaced only under this lock
            if self.jwks.keys.get(kid) is not key:
                return
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified = {}
            self._verified[token] = (caller, kid, float(claims["exp"]), float(claims["nbf"]))

    def _recheck(self, token: str, caller: Caller, kid: str, exp: float, nbf: float) -> Caller:
        """A token verified before: its signature and claims still hold; time and keys are checked again."""
        self.jwks.key(kid)  # the key set may be stale (fail closed) or have dropped this key
        if self._verified.get(token) is None:
            return self.verify(f"Bearer {token}")  # the key set changed: verify from scratch
        now = self._wall_clock()
        if exp <= now - self.leeway:
            self._verified.pop(token, None)
            raise AuthError(401, "token_expired", "the token has expired")
        if nbf > now + self.leeway:
            raise AuthError(401, "token_not_yet_valid", "the token is not valid yet (nbf/iat)")
        return caller

    def _decode(self, token: str, key: jwt.PyJWK) -> dict:
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        # Fixed messages: PyJWT's own may quote parts of the token.
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "token_expired", "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError(401, "token_not_yet_valid", "the token is not valid yet (nbf/iat)") from None
        except jwt.InvalidIssuerError:
            raise AuthError(401, "invalid_issuer", "the token was issued by someone else") from None
        except jwt.InvalidAudienceError:
            raise AuthError(401, "invalid_audience", "the token is meant for another audience") from None
        except jwt.MissingRequiredClaimError:
            raise AuthError(401, "invalid_token", "the token lacks a required claim") from None
        except jwt.InvalidSignatureError:
            raise AuthError(401, "invalid_signature", "the token signature does not verify") from None
        except jwt.InvalidTokenError:
            raise AuthError(401, "invalid_token", "the token is invalid") from None

    def _check_grant(self, claims: dict) -> None:
        if claims.get("organization_id") != self.organization_id:
            raise AuthError(403, "wrong_organization", "the token belongs to another organisation")
        grants = claims.get("requested_access")
        if not isinstance(grants, list) or not all(isinstance(g, dict) for g in grants):
            raise AuthError(403, "location_not_granted", "the token's requested_access is malformed")
        for grant in grants:
            if grant.get("type") != ACCESS_TYPE:
                continue
            locations = grant.get("locations")
            if not isinstance(locations, list) or not all(isinstance(loc, str) for loc in locations):
                raise AuthError(403, "location_not_granted", "the token's requested_access is malformed")
            # Exact string equality: Skolverket's reference code matched substrings, which lets
            # https://evil.example/?u=<our URL> through.
            if self.location in locations:
                return
        raise AuthError(403, "location_not_granted", "the token does not grant access to this API")

    def _forget_verified(self) -> None:
        self._verified = {}


def _bearer_token(authorization_header: str | None) -> str:
    """The token of a ``Bearer`` Authorization header."""
    if not authorization_header:
        raise AuthError(401, "missing_token", "an Authorization: Bearer token is required")
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthError(401, "missing_token", "an Authorization: Bearer token is required")
    token = token.strip()
    if not token:
        raise AuthError(401, "missing_token", "the bearer token is empty")
    if len(token) > MAX_TOKEN_LENGTH or not _COMPACT_JWS.fullmatch(token):
        raise AuthError(401, "malformed_token", "the bearer token is not a JWT")
    return token
