"""Our client certificate for mutual TLS: stored encrypted, generated or uploaded; used for tokens."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import Session
from sqlmodel import select

from dnp.audit import trail
from dnp.connection.certificates import generate_client_certificate
from dnp.connection.certificates import load_certificate
from dnp.connection.certificates import pair_problem
from dnp.connection.models import ClientCredential
from dnp.connection.models import CredentialSource
from dnp.connection.token import TokenClient

_lock = threading.Lock()
# Keyed by the stored content, not the row id: ids come again after a database reset or restore.
_files: dict[str, tuple[str, str]] = {}
_clients: dict[tuple, TokenClient] = {}


class CredentialError(ValueError):
    """A certificate or key that cannot be used; the message says why (Swedish)."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"dnp client key").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def active(*, session: Session) -> ClientCredential | None:
    """The certificate in use, if one was generated or uploaded here."""
    return session.exec(
        select(ClientCredential).where(ClientCredential.active.is_(True)).order_by(ClientCredential.id.desc())
    ).first()


def pending(*, session: Session) -> ClientCredential | None:
    """A new certificate waiting to be tested and activated, if any."""
    return session.exec(
        select(ClientCredential)
        .where(ClientCredential.pending.is_(True))
        .order_by(ClientCredential.id.desc())
    ).first()


def store(
    secret_key: str, actor: str, cert_pem: bytes, key_pem: bytes, source: str, *, session: Session
) -> ClientCredential:
    """Check the pair as Moa and the auth server would, then keep it (audited).

    The first certificate is used at once. While one is in use, a new one is only *pending*: the
    working one stays until an administrator has tested the new one and activates it.
    """
    try:
        cert = load_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CredentialError("Certifikatet eller nyckeln kunde inte läsas (PEM-format krävs).") from exc
    problem = pair_problem(cert, key)
    if problem:
        raise CredentialError(problem)
    in_use = active(session=session) is not None
    for old in session.exec(select(ClientCredential).where(ClientCredential.pending.is_(True))).all():
        old.pending = False  # a newer upload replaces an untested one
        session.add(old)
    credential = ClientCredential(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_encrypted=_fernet(secret_key).encrypt(key_pem).decode(),
        source=source,
        created_by=actor,
        active=not in_use,
        pending=in_use,
    )
    session.add(credential)
    session.flush()
    trail.record(
        actor,
        f"connection.certificate_{source}",
        "ClientCredential",
        str(credential.id),
        after={"pending": in_use},
        session=session,
    )
    return credential


def activate(actor: str, credential_id: int, *, session: Session) -> ClientCredential:
    """Make the pending certificate the one in use (audited); the previous one is retired."""
    credential = session.get(ClientCredential, credential_id)
    if credential is None or not credential.pending:
        raise CredentialError("Det finns inget nytt certifikat att aktivera.")
    previous = active(session=session)
    for old in session.exec(select(ClientCredential).where(ClientCredential.active.is_(True))).all():
        old.active = False
        session.add(old)
    credential.active, credential.pending = True, False
    session.add(credential)
    session.flush()
    before = {"credential": previous.id} if previous else None
    action = "connection.certificate_activated"
    trail.record(actor, action, "ClientCredential", str(credential.id), before=before, session=session)
    return credential


def discard_pending(actor: str, *, session: Session) -> bool:
    """Drop the pending certificate (audited); False when there was none."""
    credential = pending(session=session)
    if credential is None:
        return False
    credential.pending = False
    session.add(credential)
    trail.record(
        actor, "connection.certificate_discarded", "ClientCredential", str(credential.id), session=session
    )
    return True


def generate(
    secret_key: str,
    actor: str,
    organization: str,
    organization_id: str,
    common_name: str,
    *,
    session: Session,
):
    """Make a new key and self-signed certificate (to register in Moa) and make it active."""
    made = generate_client_certificate(
        organization=organization, organization_id=organization_id, common_name=common_name
    )
    return store(secret_key, actor, made.cert_pem, made.key_pem, CredentialSource.GENERATED, session=session)


def certificate_files(config: Mapping, *, session: Session) -> tuple[str | None, str | None]:
    """PEM file paths for TLS: ``DNP_TLS_CLIENT_CERT/KEY`` if set, else the stored pair written privately."""
    if config.get("TLS_CLIENT_CERT") or config.get("TLS_CLIENT_KEY"):
        return config.get("TLS_CLIENT_CERT"), config.get("TLS_CLIENT_KEY")
    credential = active(session=session)
    if credential is None:
        return None, None
    return credential_files(config, credential)


def credential_files(config: Mapping, credential: ClientCredential) -> tuple[str, str]:
    """PEM file paths of one stored pair, written once per process (the key readable by us only)."""
    with _lock:
        identity = hashlib.sha256(f"{credential.cert_pem}\n{credential.key_encrypted}".encode()).hexdigest()
        if identity not in _files:
            folder = Path(tempfile.mkdtemp(prefix="dnp-tls-"))
            os.chmod(folder, 0o700)
            cert_path, key_path = folder / "client.pem", folder / "client.key"
            cert_path.write_text(credential.cert_pem)
            descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(_fernet(config["SECRET_KEY"]).decrypt(credential.key_encrypted.encode()))
            _files[identity] = (str(cert_path), str(key_path))
        return _files[identity]


def token_client(config: Mapping, *, session: Session) -> TokenClient:
    """One token client per process and configuration (its token cache is shared by threads)."""
    cert, key = certificate_files(config, session=session)
    signature = (
        config["AUTH_SERVER_URL"],
        config["WEBHOOK_CLIENT_LOCATION"],
        cert,
        key,
        config.get("TLS_CA_BUNDLE"),
        config.get("AUTH_CLIENT_KEY"),
    )
    with _lock:
        if signature not in _clients:
            _clients[signature] = new_token_client(config, cert, key)
        return _clients[signature]


def new_token_client(config: Mapping, cert: str | None, key: str | None) -> TokenClient:
    """A token client for these certificate files and the configured auth server (its own empty cache)."""
    return TokenClient(
        auth_server_url=config["AUTH_SERVER_URL"],
        location=config["WEBHOOK_CLIENT_LOCATION"],
        tls_client_cert=cert,
        tls_client_key=key,
        ca_bundle=config.get("TLS_CA_BUNDLE"),
        auth_client_key=config.get("AUTH_CLIENT_KEY"),
    )
