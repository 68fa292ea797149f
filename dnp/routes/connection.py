"""The Skolverket connection (certificate, Moa entry, subscriptions, test) and the preparations checklist."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import request
from flask_login import current_user

from dnp.auth.models import Role
from dnp.connection import status as connection
from dnp.connection.credentials import CredentialError
from dnp.connection.credentials import activate
from dnp.connection.credentials import discard_pending
from dnp.db import get_session
from dnp.delivery.ops import last_delivered
from dnp.delivery.push.actions import test_push_connection
from dnp.delivery.push.method import METHOD_NAMES
from dnp.delivery.push.method import transfer_method
from dnp.delivery.subscriptions import all_subscriptions
from dnp.login import require_role
from dnp.types import utcnow
from dnp.web import render

bp = Blueprint("connection", __name__, url_prefix="/installningar")


def _page(message: str | None = None, error: str | None = None, status: int = 200):
    session = get_session()
    config = current_app.config
    certificate = connection.current_certificate(config, session=session)
    new_certificate = connection.pending_certificate(session=session)
    organiser = connection.huvudman(session=session)
    return render(
        "connection/index.html",
        block="connection_panel",
        status=status,
        certificate=certificate,
        new_certificate=new_certificate,
        moa_entry=connection.moa_entry(config, certificate, new_certificate, session=session),
        entity_id=connection.entity_id(config),
        organization_id=connection.organization_id(session=session),
        organiser=organiser,
        check=connection.last_check(session=session),
        subscriptions=all_subscriptions(session=session),
        delivered=last_delivered(session=session),
        now=utcnow(),
        warn_days=connection.WARN_DAYS,
        method=transfer_method(session=session),
        method_names=METHOD_NAMES,
        message=message,
        error=error,
    )


@bp.get("/skolverket")
@require_role(Role.CENTRAL_ADMIN)
def index():
    """Certificate, Moa entry, subscriptions and the connection test."""
    return _page()


@bp.post("/skolverket/certifikat")
@require_role(Role.CENTRAL_ADMIN)
def certificate():
    """Generate a key and self-signed certificate, or store an uploaded pair."""
    session = get_session()
    config = current_app.config
    try:
        if request.form.get("action") == "generate":
            organisation = request.form.get("organisation", "")
            org_id = request.form.get("organization_id", "")
            credential = connection.generate_certificate(
                config, current_user.eppn, organisation, org_id, session=session
            )
            message = "Ett nytt certifikat skapades."
        else:
            cert_pem, key_pem = _pem("cert_file", "cert_pem"), _pem("key_file", "key_pem")
            credential = connection.store_uploaded(
                config, current_user.eppn, cert_pem, key_pem, session=session
            )
            message = "Certifikatet och nyckeln är sparade."
        if credential.pending:
            message += (
                " Det används inte än: publicera den nya Moa-posten, testa det nya certifikatet och "
                "aktivera det. Till dess används det nuvarande."
            )
    except (CredentialError, ValueError) as problem:
        session.rollback()
        return _page(error=str(problem), status=422)
    session.commit()
    return _page(message=message)


@bp.post("/skolverket/certifikat/aktivera")
@require_role(Role.CENTRAL_ADMIN)
def activate_certificate():
    """Start using the new (pending) certificate instead of the current one."""
    session = get_session()
    # The id names the certificate the administrator saw (and tested), not whatever is pending now.
    raw = request.form.get("credential_id", "")
    credential_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else 0
    try:
        activate(current_user.eppn, credential_id, session=session)
    except CredentialError as problem:
        session.rollback()
        return _page(error=str(problem), status=422)
    session.commit()
    return _page(message="Det nya certifikatet används nu.")


@bp.post("/skolverket/certifikat/slang")
@require_role(Role.CENTRAL_ADMIN)
def discard_certificate():
    """Drop the new (pending) certificate; the current one stays in use."""
    session = get_session()
    discarded = discard_pending(current_user.eppn, session=session)
    session.commit()
    return _page(message="Det nya certifikatet slängdes." if discarded else None)


def _pem(file_field: str, text_field: str) -> bytes:
    upload = request.files.get(file_field)
    if upload and upload.filename:
        return upload.read(64 * 1024)
    return request.form.get(text_field, "").strip().encode()


@bp.post("/skolverket/test")
@require_role(Role.CENTRAL_ADMIN)
def test():
    """Fetch a token now and say in words what happened; with push also call Provisioning API's /alive."""
    session = get_session()
    new_certificate = request.form.get("certificate") == "new"
    if transfer_method(session=session) == "push":
        check = test_push_connection(
            current_app.config, current_user.access, new_certificate, session=session
        )
    else:
        check = connection.test_connection(
            current_app.config, current_user.eppn, new_certificate, session=session
        )
    session.commit()
    return _page(message=check.message if check.ok else None, error=None if check.ok else check.message)


@bp.get("/forberedelser")
@require_role(Role.CENTRAL_ADMIN)
def checklist():
    """The steps before the first test, each with its live status and what to do next."""
    session = get_session()
    method = transfer_method(session=session)
    steps = connection.checklist(current_app.config, session=session, method=method)
    return render("connection/checklist.html", steps=steps, method=method, method_names=METHOD_NAMES)
