"""Single logout started by the IdP: signed messages end our session, anything else changes nothing."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from sqlmodel import select

from dnp.auth.models import LoginSession
from tests.auth import saml_idp
from tests.helpers import grant
from tests.helpers import login

EPPN = "anna@" + saml_idp.SCOPE


@pytest.fixture
def signed_in(saml_app, client):
    grant(saml_app, EPPN, "central_admin")
    login(client, saml_app, EPPN)
    assert client.get("/admin/access").status_code == 200
    return client


def _ended(db) -> bool:
    db.rollback()
    return db.exec(select(LoginSession)).one().ended is not None


def test_signed_logout_request_ends_the_session_and_answers_the_idp(signed_in, db):
    request_xml = saml_idp.logout_request_xml()
    query = saml_idp.redirect_query("SAMLRequest", request_xml, relay_state="idp-state")
    response = signed_in.get("/saml/sls?" + query)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(saml_idp.SLO_URL + "?")
    answer = parse_qs(urlsplit(location).query)
    assert answer["RelayState"] == ["idp-state"] and "Signature" in answer  # our key signs the answer
    logout_response = etree.fromstring(
        OneLogin_Saml2_Utils.decode_base64_and_inflate(answer["SAMLResponse"][0])
    )
    assert logout_response.get("InResponseTo") == etree.fromstring(request_xml.encode()).get("ID")
    assert _ended(db)
    assert signed_in.get("/admin/access").status_code == 302


def test_signed_logout_response_ends_the_session(signed_in, db):
    query = saml_idp.redirect_query("SAMLResponse", saml_idp.logout_response_xml())
    response = signed_in.get("/saml/sls?" + query)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert _ended(db)
    page = signed_in.get("/auth/login").get_data(as_text=True)
    assert "Du är utloggad." in page
    assert "Du är utloggad." not in signed_in.get("/auth/login").get_data(as_text=True)  # shown once


BAD = {
    "unsigned": lambda: saml_idp.redirect_query("SAMLRequest", saml_idp.logout_request_xml(), signer=None),
    "wrong key": lambda: saml_idp.redirect_query("SAMLRequest", saml_idp.logout_request_xml(), signer="evil"),
    "rsa-sha1": lambda: saml_idp.redirect_query(
        "SAMLRequest", saml_idp.logout_request_xml(), algorithm=C.RSA_SHA1
    ),
    "wrong issuer": lambda: saml_idp.redirect_query(
        "SAMLRequest", saml_idp.logout_request_xml(issuer="https://idp.other.example/idp")
    ),
    "wrong destination": lambda: saml_idp.redirect_query(
        "SAMLRequest", saml_idp.logout_request_xml(destination="https://other-sp.example/sls")
    ),
    "tampered after signing": lambda: saml_idp.redirect_query(
        "SAMLRequest", saml_idp.logout_request_xml(), relay_state="a"
    ).replace("RelayState=a", "RelayState=b"),
    "unsigned response": lambda: saml_idp.redirect_query(
        "SAMLResponse", saml_idp.logout_response_xml(), signer=None
    ),
    "no message": lambda: "RelayState=x",
    "garbage": lambda: "SAMLRequest=%25%25%25&SigAlg=x&Signature=eA%3D%3D",
}


@pytest.mark.parametrize("case", BAD)
def test_bad_logout_message_is_refused_and_keeps_the_session(signed_in, db, case):
    response = signed_in.get("/saml/sls?" + BAD[case]())
    assert response.status_code == 400
    assert "Utloggningen kunde inte genomföras" in response.get_data(as_text=True)
    assert not _ended(db)
    assert signed_in.get("/admin/access").status_code == 200


def test_logout_request_from_an_idp_without_slo_is_refused(signed_in, saml_app, db, tmp_path):
    (tmp_path / "no-slo.xml").write_text(saml_idp.entity_xml(slo=False))
    saml_app.config["SAML_IDP_METADATA"] = str(tmp_path / "no-slo.xml")
    response = signed_in.get(
        "/saml/sls?" + saml_idp.redirect_query("SAMLRequest", saml_idp.logout_request_xml())
    )
    assert response.status_code == 400
    assert not _ended(db)
