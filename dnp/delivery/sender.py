"""Sending one webhook: our bearer token, 10 s timeout, no redirects, any 2xx is success."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from dnp.connection.token import TokenError


@dataclass
class SendResult:
    """What happened, in words an operator can act on."""

    ok: bool
    status: int | None = None
    error: str = ""


def post_webhook(target: str, body: dict, tokens, ca_bundle: str | None, timeout: float = 10.0) -> SendResult:
    """POST the body; on a 401 fetch a new token once and try again (``tokens``: get_token/invalidate)."""
    try:
        token = tokens.get_token()
    except TokenError as error:
        return SendResult(False, None, f"Kunde inte hämta token: {error.message_sv}")
    verify = ca_bundle or True
    with httpx.Client(timeout=timeout, follow_redirects=False, verify=verify) as client:
        for attempt in (1, 2):
            try:
                response = client.post(target, json=body, headers={"Authorization": f"Bearer {token}"})
            except httpx.TimeoutException:
                return SendResult(False, None, f"Mottagaren svarade inte inom {timeout:g} s.")
            except httpx.HTTPError as exc:
                return SendResult(False, None, f"Mottagaren gick inte att nå ({type(exc).__name__}).")
            if 200 <= response.status_code < 300:
                return SendResult(True, response.status_code)
            if response.status_code == 401 and attempt == 1:
                tokens.invalidate(token)
                try:
                    token = tokens.get_token()
                except TokenError as error:
                    return SendResult(
                        False, 401, f"Token nekades och en ny gick inte att hämta: {error.message_sv}"
                    )
                continue
            if 300 <= response.status_code < 400:
                return SendResult(
                    False, response.status_code, "Mottagaren svarade med en omdirigering, som inte följs."
                )
            return SendResult(False, response.status_code, f"Mottagaren svarade HTTP {response.status_code}.")
    return SendResult(False, 401, "Mottagaren nekade även den nya token (HTTP 401).")
