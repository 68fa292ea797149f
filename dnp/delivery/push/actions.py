"""What people do to push from the web pages, each checked against their role: switch method, test, resend.

The views check the role too; these checks hold when a service is called from somewhere new.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session

from dnp.audit import trail
from dnp.auth.roles import Access
from dnp.connection.credentials import certificate_files
from dnp.connection.credentials import credential_files
from dnp.connection.credentials import pending
from dnp.connection.models import ConnectionCheck
from dnp.connection.token import TokenClient
from dnp.connection.token import TokenError
from dnp.delivery.push import ops
from dnp.delivery.push.client import ACCESS_TYPE
from dnp.delivery.push.client import ProvisioningClient
from dnp.delivery.push.method import set_transfer_method
from dnp.delivery.push.models import ORDER
from dnp.groups.models import TestGroup


class NotAllowed(PermissionError):
    """The person does not hold the role the action needs."""


def _need(rights: Access, role: str) -> None:
    if not rights.has(role):
        raise NotAllowed(role)


def choose_method(rights: Access, method: str, *, session: Session) -> bool:
    """Switch the transfer method (central administrators; audited by ``set_transfer_method``)."""
    _need(rights, "central_admin")
    return set_transfer_method(rights.eppn, method, session=session)


class _FreshToken:
    """A token fetched for this test only (never the workers' shared one): the test proves a fetch works."""

    def __init__(self, client: TokenClient, token: str) -> None:
        self.client = client
        self.token: str | None = token

    def get(self) -> str:
        """The token just fetched, or (after a refusal) a new one."""
        return self.token or self.client.get_token()

    def drop(self, token: str) -> None:
        """Forget a refused token; the next get fetches anew."""
        self.client.invalidate(token)
        self.token = None


def test_push_connection(
    config: Mapping, rights: Access, new_certificate: bool = False, *, session: Session
) -> ConnectionCheck:
    """Fetch a provisioning token over mutual TLS, call ``GET /alive``; the outcome in words (audited).

    With ``new_certificate`` the pending certificate is tried instead of the one in use.
    """
    _need(rights, "central_admin")
    prefix = "Det nya certifikatet: " if new_certificate else ""
    if new_certificate:
        credential = pending(session=session)
        if credential is None:
            nothing = ConnectionCheck(ok=False, message="Det finns inget nytt certifikat att testa.")
            return _recorded(rights.eppn, nothing, new_certificate, session=session)
        cert, key = credential_files(config, credential)
    else:
        cert, key = certificate_files(config, session=session)
    check = _token_and_alive(config, cert, key)
    check.message = prefix + check.message
    return _recorded(rights.eppn, check, new_certificate, session=session)


def _token_and_alive(config: Mapping, cert: str | None, key: str | None) -> ConnectionCheck:
    tokens = TokenClient(
        auth_server_url=config["AUTH_SERVER_URL"],
        location=config.get("PROVISIONING_LOCATION") or config["PROVISIONING_URL"],
        tls_client_cert=cert,
        tls_client_key=key,
        ca_bundle=config.get("TLS_CA_BUNDLE"),
        auth_client_key=config.get("AUTH_CLIENT_KEY"),
        access_type=ACCESS_TYPE,
    )
    try:
        token = tokens.get_token()
    except TokenError as error:
        return ConnectionCheck(ok=False, message=error.message_sv)
    client = ProvisioningClient(
        config["PROVISIONING_URL"],
        _FreshToken(tokens, token),  # type: ignore[arg-type]  # the same get/drop as the shared token
        None,  # type: ignore[arg-type]  # /alive is not rate limited
        ca_bundle=config.get("TLS_CA_BUNDLE"),
        timeout=float(config.get("PROVISIONING_TIMEOUT") or 10.0),
    )
    try:
        reply = client.alive()
    finally:
        client.close()
    if reply.status == 200:
        return ConnectionCheck(
            ok=True, message="Token hämtades och Skolverkets Provisioning API svarar: anslutningen fungerar."
        )
    if reply.status == 403:
        return ConnectionCheck(
            ok=False,
            message="Token hämtades, men Provisioning API godtog den inte (behörighet saknas). Kontrollera "
            "att certifikatet i Moa gäller för Provisioning API och att adressen i DNP_PROVISIONING_LOCATION "
            "stämmer.",
        )
    if reply.status is None:
        message = f"Token hämtades, men inget svar från Provisioning API: {reply.error}"
        return ConnectionCheck(ok=False, message=message)
    return ConnectionCheck(
        ok=False, message=f"Token hämtades, men Provisioning API svarade med felkod {reply.status}."
    )


def _recorded(
    actor: str, check: ConnectionCheck, new_certificate: bool, *, session: Session
) -> ConnectionCheck:
    check.checked_by = actor
    session.add(check)
    session.flush()
    after = {"ok": check.ok, "certificate": "new" if new_certificate else "in_use", "method": "push"}
    trail.record(actor, "connection.tested", "ConnectionCheck", str(check.id), after=after, session=session)
    return check


def resend_failed(rights: Access, *, session: Session) -> int:
    """Send every refused or failed object again (operators; audited)."""
    _need(rights, "operator")
    return ops.resend(rights.eppn, failed=True, session=session)


def resend_object(rights: Access, resource: str, entity_id: str, *, session: Session) -> int:
    """Send one object again (operators; audited); ``LookupError`` if push never knew it."""
    _need(rights, "operator")
    if resource not in ORDER or not ops.answers_for(resource, [entity_id], session=session):
        raise LookupError(entity_id)
    return ops.resend(rights.eppn, resource=resource, entity_ids=[entity_id], session=session)


def resend_group(rights: Access, group_id: str, *, session: Session) -> int:
    """Send one test group again with its activity and members (operators; audited); ``LookupError`` if the
    group is not published."""
    _need(rights, "operator")
    group = session.get(TestGroup, group_id)
    if group is None:
        raise LookupError(group_id)
    try:
        return ops.resend_group(rights.eppn, group.id, group.activity_id, session=session)
    except ValueError as error:
        raise LookupError(group_id) from error
