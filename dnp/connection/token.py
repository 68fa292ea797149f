"""Our bearer token for webhooks: a GNAP grant from Sunet's nutid auth server over mutual TLS."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping

import httpx

from dnp.connection.certificates import cert_s256
from dnp.connection.certificates import load_certificate
from dnp.connection.token_errors import HANDSHAKE_REFUSALS
from dnp.connection.token_errors import REFUSAL_HINTS
from dnp.connection.token_errors import TokenError
from dnp.connection.token_errors import chain
from dnp.connection.token_errors import gnap_error
from dnp.connection.token_errors import why

DEFAULT_TIMEOUT = 10.0
# Renew at 90% of the lifetime, as Skolverket's reference client does.
RENEW_AT = 0.9
# Used only when the answer has neither expires_in nor a readable JWT exp.
FALLBACK_LIFETIME = 60


class TokenClient:
    """Gets, caches and renews our access token; safe to share between threads."""

    def __init__(
        self,
        *,
        auth_server_url: str,
        location: str,
        tls_client_cert: str | None,
        tls_client_key: str | None,
        ca_bundle: str | None = None,
        auth_client_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        access_type: str = "ss12000-client",
    ) -> None:
        self.auth_server_url = auth_server_url
        self.location = location
        self.tls_client_cert = tls_client_cert
        self.tls_client_key = tls_client_key
        self.ca_bundle = ca_bundle
        self.auth_client_key = auth_client_key
        self.timeout = timeout
        self.access_type = access_type  # ss12000-client (webhooks) or provisioning-api (push)
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    @classmethod
    def from_config(cls, config: Mapping) -> TokenClient:
        """Build from the app configuration (the ``DNP_*`` keys without prefix)."""
        return cls(
            auth_server_url=config["AUTH_SERVER_URL"],
            location=config["WEBHOOK_CLIENT_LOCATION"],
            tls_client_cert=config.get("TLS_CLIENT_CERT"),
            tls_client_key=config.get("TLS_CLIENT_KEY"),
            ca_bundle=config.get("TLS_CA_BUNDLE"),
            auth_client_key=config.get("AUTH_CLIENT_KEY"),
        )

    def get_token(self) -> str:
        """The cached token, or a new one once 90% of its lifetime has passed."""
        # One lock around the fetch: threads that find the token stale wait for one request
        # instead of each asking the auth server.
        with self._lock:
            if self._token is not None and self._clock() < self._renew_at:
                return self._token
            token, lifetime = self._fetch()
            self._token = token
            self._renew_at = self._clock() + RENEW_AT * lifetime
            return token

    def renew_in(self) -> float:
        """Seconds until the cached token is renewed (0 without one): how long others may reuse it."""
        with self._lock:
            return max(0.0, self._renew_at - self._clock()) if self._token is not None else 0.0

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (after a 401); with ``token``, only if it is still the cached one."""
        # Passing the rejected token keeps a slow thread from throwing away a token another
        # thread has just fetched.
        with self._lock:
            if token is None or token == self._token:
                self._token = None
                self._renew_at = 0.0

    def request_body(self) -> dict:
        """The GNAP grant request we send (auth.md §2.4)."""
        if self.auth_client_key:
            key: object = self.auth_client_key
        else:
            cert = self._read_certificate()
            key = {"proof": "mtls", "cert#S256": cert_s256(cert)}
        return {
            "access_token": [
                {"access": [{"type": self.access_type, "locations": [self.location]}], "flags": ["bearer"]}
            ],
            "client": {"key": key},
        }

    def _fetch(self) -> tuple[str, float]:
        context = self._tls_context()
        body = self.request_body()
        try:
            with httpx.Client(verify=context, timeout=self.timeout, follow_redirects=False) as client:
                response = client.post(self.auth_server_url, json=body)
        except httpx.TimeoutException:
            raise TokenError(
                "timeout",
                f"the auth server at {self.auth_server_url} did not answer within {self.timeout:g} s",
                f"auth-servern på {self.auth_server_url} svarade inte inom {self.timeout:g} s",
            ) from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        return self._parse(response)

    def _tls_context(self) -> ssl.SSLContext:
        if not self.tls_client_cert or not self.tls_client_key:
            raise TokenError(
                "no_client_certificate",
                "no client certificate configured: set DNP_TLS_CLIENT_CERT and DNP_TLS_CLIENT_KEY to the "
                "PEM files of the certificate registered in Moa",
                "inget klientcertifikat är konfigurerat: sätt DNP_TLS_CLIENT_CERT och DNP_TLS_CLIENT_KEY "
                "till PEM-filerna för certifikatet som är registrerat i Moa",
            )
        try:
            context = ssl.create_default_context(cafile=self.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise TokenError(
                "ca_bundle_unreadable",
                f"the CA bundle DNP_TLS_CA_BUNDLE={self.ca_bundle} cannot be read ({why(exc)})",
                f"CA-filen DNP_TLS_CA_BUNDLE={self.ca_bundle} går inte att läsa ({why(exc)})",
            ) from None
        for what, what_sv, path in (
            ("client certificate", "klientcertifikatet", self.tls_client_cert),
            ("client key", "klientnyckeln", self.tls_client_key),
        ):
            try:
                open(path, "rb").close()
            except OSError as exc:
                raise TokenError(
                    "certificate_unreadable",
                    f"the {what} file {path} cannot be read ({why(exc)})",
                    f"filen med {what_sv} {path} går inte att läsa ({why(exc)})",
                ) from None
        try:
            context.load_cert_chain(self.tls_client_cert, self.tls_client_key)
        except (OSError, ssl.SSLError) as exc:
            raise TokenError(
                "certificate_unreadable",
                f"the client certificate {self.tls_client_cert} and key {self.tls_client_key} are not "
                f"PEM or do not belong together ({why(exc)})",
                f"klientcertifikatet {self.tls_client_cert} och nyckeln {self.tls_client_key} är inte "
                f"PEM eller hör inte ihop ({why(exc)})",
            ) from None
        return context

    def _read_certificate(self):
        try:
            return load_certificate(self.tls_client_cert)
        except (OSError, ValueError) as exc:
            raise TokenError(
                "certificate_unreadable",
                f"the client certificate {self.tls_client_cert} cannot be read ({why(exc)})",
                f"klientcertifikatet {self.tls_client_cert} går inte att läsa ({why(exc)})",
            ) from None

    def _transport_error(self, exc: httpx.HTTPError) -> TokenError:
        text = " ".join(str(e) for e in chain(exc))
        url = self.auth_server_url
        if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain(exc)):
            return TokenError(
                "server_untrusted",
                f"the auth server's certificate at {url} is not trusted ({why(exc)}); check "
                "DNP_TLS_CA_BUNDLE and DNP_AUTH_SERVER_URL",
                f"auth-serverns certifikat på {url} är inte betrott ({why(exc)}); kontrollera "
                "DNP_TLS_CA_BUNDLE och DNP_AUTH_SERVER_URL",
            )
        if any(alert in text for alert in HANDSHAKE_REFUSALS):
            return TokenError(
                "handshake_refused",
                f"the auth server at {url} refused the TLS handshake: our client certificate "
                f"({self.tls_client_cert}) is wrong or not registered in Moa",
                f"auth-servern på {url} avvisade TLS-handskakningen: klientcertifikatet "
                f"({self.tls_client_cert}) är fel eller inte registrerat i Moa",
            )
        return TokenError(
            "unreachable",
            f"the auth server at {url} cannot be reached ({why(exc)})",
            f"auth-servern på {url} går inte att nå ({why(exc)})",
        )

    def _parse(self, response: httpx.Response) -> tuple[str, float]:
        status = response.status_code
        if 300 <= status < 400:
            raise TokenError(
                "bad_response",
                f"the auth server answered HTTP {status} (a redirect); check DNP_AUTH_SERVER_URL",
                f"auth-servern svarade HTTP {status} (omdirigering); kontrollera DNP_AUTH_SERVER_URL",
            )
        if 400 <= status < 500:
            code, description = gnap_error(response)
            hint, hint_sv = REFUSAL_HINTS.get(code, ("", ""))
            detail = f"HTTP {status} {code}" + (f": {description}" if description else "")
            raise TokenError(
                "refused",
                f"the auth server refused our token request ({detail})" + (f"; {hint}" if hint else ""),
                f"auth-servern nekade begäran om token ({detail})" + (f"; {hint_sv}" if hint_sv else ""),
            )
        if status >= 500:
            raise TokenError(
                "server_error",
                f"the auth server failed (HTTP {status}); try again later",
                f"fel hos auth-servern (HTTP {status}); försök igen senare",
            )
        try:
            grant = response.json()["access_token"]
            if isinstance(grant, list) and len(grant) == 1:
                grant = grant[0]
            token = grant["value"]
            if not isinstance(token, str) or not token:
                raise ValueError("empty value")
        except (ValueError, KeyError, TypeError, IndexError):
            raise TokenError(
                "bad_response",
                f"the auth server's answer (HTTP {status}) holds no access token",
                f"auth-serverns svar (HTTP {status}) innehåller ingen åtkomsttoken",
            ) from None
        return token, self._lifetime(grant.get("expires_in"), token)

    def _lifetime(self, expires_in: object, token: str) -> float:
        # nutid's expires_in can exceed the JWT's own exp (auth.md §2.4): trust the shorter one.
        candidates = []
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
            candidates.append(float(expires_in))
        exp = _jwt_exp(token)
        if exp is not None and exp - self._clock() > 0:
            candidates.append(exp - self._clock())
        return min(candidates) if candidates else FALLBACK_LIFETIME


def _jwt_exp(token: str) -> float | None:
    """``exp`` read from the token without verification: only to know when to renew."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp")
    except (IndexError, ValueError, AttributeError):
        return None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
