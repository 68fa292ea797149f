"""Why we could not get a token: the error, the operator hints and how a failure is described."""

from __future__ import annotations

import httpx

# Hints for the GNAP error codes an operator can do something about.
REFUSAL_HINTS = {
    "request_denied": (
        "check that the certificate in DNP_TLS_CLIENT_CERT is registered in Moa for the entity in "
        "DNP_AUTH_CLIENT_KEY",
        "kontrollera att certifikatet i DNP_TLS_CLIENT_CERT är registrerat i Moa för entiteten i "
        "DNP_AUTH_CLIENT_KEY",
    ),
    "invalid_client": (
        "the auth server does not know this client: check DNP_AUTH_CLIENT_KEY and the Moa registration",
        "auth-servern känner inte igen klienten: kontrollera DNP_AUTH_CLIENT_KEY och registreringen i Moa",
    ),
}
# OpenSSL alert names seen when the server rejects our client certificate during the handshake.
HANDSHAKE_REFUSALS = (
    "ALERT_UNKNOWN_CA",
    "ALERT_BAD_CERTIFICATE",
    "CERTIFICATE_REQUIRED",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_HANDSHAKE_FAILURE",
    "ALERT_ACCESS_DENIED",
)


class TokenError(Exception):
    """Why we could not get a token, in English (``message``) and Swedish (``message_sv``)."""

    def __init__(self, code: str, message: str, message_sv: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_sv = message_sv


def gnap_error(response: httpx.Response) -> tuple[str, str]:
    """(code, description) of an RFC 9635 error answer, tolerating the OAuth-style shape too."""
    try:
        body = response.json()
    except ValueError:
        return "no_error_code", ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code, description = error.get("code"), error.get("description")
    else:
        code, description = error, body.get("error_description") if isinstance(body, dict) else None
    return clean(code) or "no_error_code", clean(description)


def clean(value: object) -> str:
    """Server text made printable and short (it ends up in logs and the operator UI)."""
    # Server text ends up in logs and the operator UI: printable and short only.
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch.isprintable())[:200]


def chain(exc: BaseException):
    """The exception and its causes, outermost first."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def why(exc: BaseException) -> str:
    """The innermost cause's message, for an operator."""
    innermost = list(chain(exc))[-1]
    return str(innermost) or type(innermost).__name__

