"""The Skolverket connection at a glance: certificate, Moa entry, token checks, preparations checklist."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select

from dnp.audit import trail
from dnp.auth.models import RoleGrant
from dnp.common.wording import counted
from dnp.connection.certificates import CertificateInfo
from dnp.connection.certificates import build_moa_entry
from dnp.connection.certificates import describe_certificate
from dnp.connection.certificates import load_certificate
from dnp.connection.credentials import CredentialError
from dnp.connection.credentials import active
from dnp.connection.credentials import certificate_files
from dnp.connection.credentials import credential_files
from dnp.connection.credentials import generate
from dnp.connection.credentials import new_token_client
from dnp.connection.credentials import pending
from dnp.connection.credentials import store
from dnp.connection.models import ClientCredential
from dnp.connection.models import ConnectionCheck
from dnp.connection.token import TokenError
from dnp.delivery.models import Subscription
from dnp.groups.models import TestGroup
from dnp.publication.models import CentralSetting
from dnp.register.models import Organisation
from dnp.types import utcnow

WARN_DAYS = 30


@dataclass
class Certificate:
    """The client certificate in use and where it comes from."""

    info: CertificateInfo
    pem: str
    source: str  # environment | generated | uploaded
    credential_id: int | None = None


def current_certificate(config: Mapping, session: Session) -> Certificate | None:
    """The configured (DNP_TLS_CLIENT_CERT) or stored certificate, described."""
    if config.get("TLS_CLIENT_CERT"):
        try:
            pem = Path(config["TLS_CLIENT_CERT"]).read_text()
            return Certificate(describe_certificate(load_certificate(pem.encode())), pem, "environment")
        except (OSError, ValueError):
            return None
    return _described(active(session))


def pending_certificate(*, session: Session) -> Certificate | None:
    """A new certificate stored but not yet in use (it waits for a test and activation)."""
    return _described(pending(session))


def _described(credential: ClientCredential | None) -> Certificate | None:
    if credential is None:
        return None
    return Certificate(
        describe_certificate(load_certificate(credential.cert_pem.encode())),
        credential.cert_pem,
        credential.source,
        credential.id,
    )


def huvudman(session: Session) -> Organisation | None:
    """The organiser (huvudman) in the register."""
    return session.exec(select(Organisation).where(Organisation.organisation_type == "Huvudman")).first()


def organization_id(session: Session) -> str:
    """Our organisation id as Moa writes it: SE + organisation number."""
    organiser = huvudman(session)
    return f"SE{organiser.organisation_number}" if organiser and organiser.organisation_number else ""


def entity_id(config: Mapping) -> str:
    """Our Moa entity id: DNP_AUTH_CLIENT_KEY, else the origin of our SS 12000 location."""
    if config.get("AUTH_CLIENT_KEY"):
        return config["AUTH_CLIENT_KEY"]
    parts = urlsplit(config["SS12000_LOCATION"])
    return f"{parts.scheme}://{parts.netloc}"


def generate_certificate(
    config: Mapping, actor: str, organisation: str, given_organization_id: str, *, session: Session
) -> ClientCredential:
    """A new key and self-signed certificate. The name: the one given, else the register's organiser;
    the organisation number: the register's, else the one given (the register is the authority)."""
    organiser = huvudman(session)
    name = (organisation or (organiser.display_name if organiser else "")).strip()
    if not name:
        raise CredentialError("Ange organisationens namn.")
    org_id = organization_id(session) or given_organization_id.strip()
    return generate(session, config["SECRET_KEY"], actor, name, org_id, entity_id(config))


def store_uploaded(config: Mapping, actor: str, cert_pem: bytes, key_pem: bytes, *, session: Session):
    """Keep an uploaded certificate and key (both are needed); checked and audited by ``store``."""
    if not cert_pem or not key_pem:
        raise CredentialError("Ladda upp både certifikat och nyckel (PEM).")
    return store(session, config["SECRET_KEY"], actor, cert_pem, key_pem, "uploaded")


def moa_entry(
    config: Mapping, session: Session, certificate: Certificate | None, new: Certificate | None = None
) -> str | None:
    """The ready-to-paste Moa metadata entry, or None without a usable certificate/organisation id.

    With a ``new`` (pending) certificate the entry holds both, so the one in use keeps working
    while the new one is registered, tested and activated.
    """
    org_id = organization_id(session)
    certificate, new = (certificate, new) if certificate else (new, None)
    if certificate is None or not org_id:
        return None
    try:
        also = (new.pem,) if new else ()
        entry = build_moa_entry(entity_id(config), org_id, certificate.pem, also=also)
    except ValueError:
        return None
    return json.dumps(entry, indent=2, ensure_ascii=False)


def test_connection(
    config: Mapping, session: Session, actor: str, new_certificate: bool = False
) -> ConnectionCheck:
    """Fetch a fresh token from the auth server and record the outcome in words (audited).

    With ``new_certificate`` the pending certificate is tried instead of the one in use.
    """
    if new_certificate:
        credential = pending(session)
        if credential is None:
            nothing = ConnectionCheck(ok=False, message="Det finns inget nytt certifikat att testa.")
            return _recorded(actor, nothing, session=session)
        cert, key = credential_files(config, credential)
        prefix = "Det nya certifikatet: "
    else:
        cert, key = certificate_files(config, session)
        prefix = ""
    client = new_token_client(config, cert, key)  # a fresh token, not a cached one
    try:
        client.get_token()
        check = ConnectionCheck(
            ok=True, message=prefix + "Token hämtades: certifikatet är registrerat och servern svarar."
        )
    except TokenError as error:
        check = ConnectionCheck(ok=False, message=prefix + error.message_sv)
    return _recorded(actor, check, new_certificate, session=session)


def _recorded(
    actor: str, check: ConnectionCheck, new_certificate: bool = True, *, session: Session
) -> ConnectionCheck:
    check.checked_by = actor
    session.add(check)
    session.flush()
    after = {"ok": check.ok, "certificate": "new" if new_certificate else "in_use"}
    trail.record(session, actor, "connection.tested", "ConnectionCheck", str(check.id), after=after)
    return check


def last_check(*, session: Session) -> ConnectionCheck | None:
    """The latest token check."""
    return session.exec(select(ConnectionCheck).order_by(ConnectionCheck.id.desc())).first()


def certificate_warning(config: Mapping, session: Session) -> str | None:
    """A warning for central administrators when the certificate is missing, expiring or expired."""
    certificate = current_certificate(config, session)
    if certificate is None:
        return None
    days = certificate.info.days_left
    if days < 0:
        return "Klientcertifikatet för Skolverket-anslutningen har gått ut: ändringar når inte Skolverket."
    if days <= WARN_DAYS:
        left = counted(days, "dag", "dagar")
        return f"Klientcertifikatet för Skolverket-anslutningen går ut om {left}. Förnya det i tid."
    return None


@dataclass
class Step:
    """One preparation step with its live status and what to do next."""

    title: str
    done: bool
    status: str
    next_step: str
    endpoint: str | None = None


def checklist(config: Mapping, session: Session) -> list[Step]:
    """The steps an organiser goes through before the first test, each with its live status."""
    now = utcnow()
    certificate = current_certificate(config, session)
    check = last_check(session=session)
    subscriptions = session.exec(
        select(func.count()).select_from(Subscription).where(Subscription.expires > now)
    ).one()
    protected = session.get(CentralSetting, "protected_persons")
    unit_admins = session.exec(
        select(func.count()).select_from(RoleGrant).where(RoleGrant.role == "unit_admin")
    ).one()
    ready = session.exec(select(func.count()).select_from(TestGroup).where(TestGroup.status == "ready")).one()
    cert_ok = certificate is not None and certificate.info.days_left > 0
    token_ok = check is not None and check.ok and now - check.at < timedelta(days=30)
    return [
        Step(
            "Klientcertifikat finns och är giltigt",
            cert_ok,
            f"Giltigt till {certificate.info.not_after:%Y-%m-%d}" if cert_ok else "Inget giltigt certifikat",
            "Skapa eller ladda upp ett certifikat på sidan Skolverket-anslutning.",
            "connection.index",
        ),
        Step(
            "Moa-posten är publicerad i Skolfederation (token kan hämtas)",
            token_ok,
            check.message if check else "Inte testat",
            "Klistra in Moa-posten i Skolfederations metadata och tryck på ”Testa anslutningen”.",
            "connection.index",
        ),
        Step(
            "Skolverket prenumererar på ändringar",
            subscriptions > 0,
            counted(subscriptions, "aktiv prenumeration", "aktiva prenumerationer"),
            "Be Skolverket starta hämtningen; deras klient prenumererar själv via SS 12000-API:t.",
            "connection.index",
        ),
        Step(
            "Inställning för skyddade personuppgifter vald",
            protected is not None,
            "Vald" if protected else "Standardvärdet används (ingen har valt)",
            "Välj hur personer med skyddad identitet ska skickas.",
            "settings.index",
        ),
        Step(
            "Skolenhetsadministratörer har behörighet",
            unit_admins > 0,
            counted(unit_admins, "behörighet", "behörigheter"),
            "Ge skolenheternas administratörer behörighet.",
            "admin.access_page",
        ),
        Step(
            "Minst en provgrupp är klar att skicka",
            ready > 0,
            counted(ready, "klar grupp", "klara grupper"),
            "Skolenheterna bygger provgrupper och markerar dem som klara.",
            "groups.index",
        ),
    ]
