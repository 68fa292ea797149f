"""Sign-in through Skolfederation: SP metadata, login, assertion consumer and single logout."""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import flash
from flask import redirect
from flask import request
from flask import url_for

from dnp.auth.saml import login as saml_login
from dnp.auth.saml import sp as saml
from dnp.auth.saml.sp import SamlError
from dnp.db import get_session
from dnp.login import safe_next
from dnp.login import sign_in
from dnp.login import sign_out
from dnp.web import render

bp = Blueprint("saml", __name__, url_prefix="/saml")
log = logging.getLogger(__name__)
STATUS = {"config": 503, "stale": 400, "invalid": 400, "identity": 403, "logout": 400}


@bp.get("/metadata")
def metadata():
    """Our SP metadata, for registration in the federation."""
    try:
        xml = saml.sp_metadata(saml.sp_config(current_app.config))
    except SamlError as error:
        return _refuse(error)
    return Response(xml, mimetype="application/samlmetadata+xml")


@bp.get("/login")
def login():
    """Send the browser to the IdP with a fresh AuthnRequest."""
    db = get_session()
    try:
        sp, idp = saml.sp_config(current_app.config), saml.idp_info(current_app.config)
    except SamlError as error:
        return _refuse(error)
    saml_login.purge_expired(max_open=int(current_app.config["SAML_MAX_OPEN_REQUESTS"]), session=db)
    url = saml_login.begin_login(sp, idp, safe_next(request.args.get("next")), session=db)
    db.commit()
    return redirect(url)


@bp.post("/acs")
def acs():
    """Check the IdP's Response and sign the person in; never relies on our (Lax) session cookie."""
    db = get_session()
    try:
        sp, idp = saml.sp_config(current_app.config), saml.idp_info(current_app.config)
        pending = saml_login.claim_request(request.form.get("RelayState", ""), session=db)
        db.commit()  # the token is spent even if the Response below is refused
        result = saml_login.complete_login(db, sp, idp, pending, request.form.get("SAMLResponse", ""))
    except SamlError as error:
        db.rollback()
        return _refuse(error)
    # sign_in commits the used assertion together with the new session.
    return sign_in(result.eppn, "saml", result.display_name, result.next_path)


@bp.get("/sls")
def sls():
    """Single logout started by the IdP: end our session and answer it."""
    try:
        sp, idp = saml.sp_config(current_app.config), saml.idp_info(current_app.config)
        url = saml.process_logout(sp, idp, request.args.to_dict(), request.query_string.decode("latin-1"))
    except SamlError as error:
        return _refuse(error)
    sign_out()
    if url:
        return redirect(url)
    flash("Du är utloggad.", "success")
    return redirect(url_for("auth.login"))


def _refuse(error: SamlError):
    # The reference ties what the person sees to the log line, without showing them internals.
    reference = secrets.token_hex(4)
    log.warning("SAML %s refused [%s] (%s): %s", request.path, reference, error.kind, error.reason)
    return render(
        "saml/error.html",
        status=STATUS[error.kind],
        kind=error.kind,
        reference=reference,
        development=current_app.config["ENV"] == "development",
    )
