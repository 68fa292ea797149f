"""What tests of every area share: ingest requests, sign-in, a hand-moved clock, waiting, certificates.

Imports no ``dnp`` module at import time: the fakes (``tests/fakes/``) take their CA from here and must not
lean on the code they stand in front of.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import time

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

INGEST_TOKEN = "test-ingest-token-0123456789"
INGEST_AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}"}


def send(client, method: str, kind: str, items, headers=None, raw: bytes | None = None):
    """Send an ingest request with the test token."""
    data = raw if raw is not None else json.dumps({kind: items})
    return client.open(
        f"/ingest/{kind}",
        method=method,
        data=data,
        headers={**INGEST_AUTH, **(headers or {})},
        content_type="application/json",
    )


# -- signing in -----------------------------------------------------------------------------------


def login(client, app, eppn: str) -> str:
    """Sign ``client`` in as ``eppn`` (a real server-side session, no IdP); return the session id."""
    from sqlmodel import Session

    from dnp.auth.models import LoginMethod
    from dnp.auth.sessions import start_session

    with Session(app.extensions["dnp.engine"]) as session:
        session_id = start_session(eppn, LoginMethod.DEV, session=session)
        session.commit()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = session_id
        cookie["_fresh"] = True
    return session_id


def grant(app, eppn: str, role: str, unit_ids=()) -> None:
    """Give ``eppn`` a role directly in the database."""
    from sqlmodel import Session

    from dnp.auth.roles import grant_role

    with Session(app.extensions["dnp.engine"]) as session:
        grant_role("test", eppn, role, list(unit_ids), session=session)
        session.commit()


def signed_in(client, app, eppn: str, role: str, unit_ids=()):
    """``client`` signed in as ``eppn`` holding ``role`` (at ``unit_ids``); returns the client."""
    grant(app, eppn, role, unit_ids)
    login(client, app, eppn)
    return client


def csrf_token(client) -> str:
    """The CSRF token of ``client``'s session, as the pages embed it for HTMX."""
    body = client.get("/csrf-probe-404").get_data(as_text=True)  # every page embeds it
    return re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)


# -- time -----------------------------------------------------------------------------------------


class Clock:
    """Seconds the test moves by hand: from the wall clock's now, or from ``start`` (a monotonic clock)."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock on."""
        self.now += seconds


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    """Poll until ``predicate()`` is truthy and return it; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


# -- certificates ---------------------------------------------------------------------------------


@functools.cache
def shared_ca() -> trustme.CA:
    """The one CA of this test process: it issues the fakes' server certificates and any CA-issued one."""
    return trustme.CA(organization_name="DNP test CA")


def self_signed(
    key,
    subject: str | x509.Name = "dnp",
    *,
    start: dt.datetime | None = None,
    days: int = 365,
    serial: int | None = None,
    end_entity: bool = False,
) -> x509.Certificate:
    """A self-signed certificate for ``key`` (any type), valid from ``start`` (a day ago) for ``days``.

    Moa pins self-signed client certificates and SAML metadata carries self-signed keys, so these are not
    issued by ``shared_ca()``. ``end_entity`` marks it as no CA (BasicConstraints), as a client's would be.
    """
    start = start or dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    name = (
        subject
        if isinstance(subject, x509.Name)
        else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
    )
    if end_entity:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    # Ed25519 and Ed448 sign without a separate hash.
    algorithm = hashes.SHA256() if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)) else None
    return builder.sign(key, algorithm)


def key_pem(key) -> bytes:
    """``key`` as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def self_signed_pem(key, subject: str | x509.Name = "dnp", **options) -> tuple[bytes, bytes]:
    """A self-signed certificate for ``key`` (see ``self_signed``) and the key, both PEM."""
    return self_signed(key, subject, **options).public_bytes(serialization.Encoding.PEM), key_pem(key)
