"""The Skolverket connection (certificate, Moa entry, subscriptions, test) and the preparations checklist."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import request
from flask_login import current_user
from sqlmodel import select

from dnp.db import get_session
from dnp.login import require_role
from dnp.models import Subscription
from dnp.models.types import utcnow
from dnp.services import connection
from dnp.services.client_credentials import CredentialError
from dnp.services.client_credentials import generate
from dnp.services.client_credentials import store
from dnp.services.delivery_ops import last_delivered
from dnp.web import render

bp = Blueprint("connection", __name__, url_prefix="/installningar")


def _page(message: str | None = None, error: str | None = None, status: int = 200):
    session = get_session()
    config = current_app.config
    certificate = connection.current_certificate(config, session)
    organiser = connection.huvudman(session)
    return render(
        "connection/index.html",
        block="connection_panel",
        status=status,
        certificate=certificate,
        moa_entry=connection.moa_entry(config, session, certificate),
        entity_id=connection.entity_id(config),
        organization_id=connection.organization_id(session),
        organiser=organiser,
        check=connection.last_check(session),
        subscriptions=session.exec(select(Subscription).order_by(Subscription.created)).all(),
        delivered=last_delivered(session),
        now=utcnow(),
        warn_days=connection.WARN_DAYS,
        message=message,
        error=error,
    )


@bp.get("/skolverket")
@require_role("central_admin")
def index():
    """Certificate, Moa entry, subscriptions and the connection test."""
    return _page()


@bp.post("/skolverket/certifikat")
@require_role("central_admin")
def certificate():
    """Generate a key and self-signed certificate, or store an uploaded pair."""
    session = get_session()
    config = current_app.config
    try:
        if request.form.get("action") == "generate":
            organiser = connection.huvudman(session)
            organisation = (
                request.form.get("organisation") or (organiser.display_name if organiser else "")
            ).strip()
            if not organisation:
                raise CredentialError("Ange organisationens namn.")
            org_id = connection.organization_id(session) or request.form.get("organization_id", "").strip()
            generate(
                session,
                config["SECRET_KEY"],
                current_user.eppn,
                organisation,
                org_id,
                connection.entity_id(config),
            )
            message = (
                "Ett nytt certifikat skapades. Publicera den nya Moa-posten innan det gamla slutar gälla."
            )
        else:
            cert_pem = _pem("cert_file", "cert_pem")
            key_pem = _pem("key_file", "key_pem")
            if not cert_pem or not key_pem:
                raise CredentialError("Ladda upp både certifikat och nyckel (PEM).")
            store(session, config["SECRET_KEY"], current_user.eppn, cert_pem, key_pem, "uploaded")
            message = "Certifikatet och nyckeln är sparade."
    except (CredentialError, ValueError) as problem:
        session.rollback()
        return _page(error=str(problem), status=422)
    session.commit()
    return _page(message=message)


def _pem(file_field: str, text_field: str) -> bytes:
    upload = request.files.get(file_field)
    if upload and upload.filename:
        return upload.read(64 * 1024)
    return request.form.get(text_field, "").strip().encode()


@bp.post("/skolverket/test")
@require_role("central_admin")
def test():
    """Fetch a token now and say in words what happened."""
    session = get_session()
    check = connection.test_connection(current_app.config, session, current_user.eppn)
    session.commit()
    return _page(message=check.message if check.ok else None, error=None if check.ok else check.message)


@bp.get("/forberedelser")
@require_role("central_admin")
def checklist():
    """The steps before the first test, each with its live status and what to do next."""
    steps = connection.checklist(current_app.config, get_session())
    return render("connection/checklist.html", steps=steps)


def certificate_banner() -> dict:
    """Template context: a certificate warning for central administrators, looked up only when the full
    page layout asks for it (HTMX fragments never do)."""

    def certificate_warning() -> str | None:
        if not (current_user.is_authenticated and current_user.access.central_admin):
            return None
        return connection.certificate_warning(current_app.config, get_session())

    return {"certificate_warning": certificate_warning}
