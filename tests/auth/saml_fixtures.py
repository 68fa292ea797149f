"""SAML fixtures (a plugin): the app as the SP of a throwaway IdP (keys and metadata in tmp files)."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from sqlmodel import select

from dnp.auth.models import LoginSession
from dnp.auth.saml import metadata as saml_metadata
from tests.auth import saml_idp


@pytest.fixture
def saml_app(app, tmp_path):
    """The app as SP of the test IdP, metadata read from a file."""
    sp_key, sp_cert = saml_idp.keypair("sp")
    (tmp_path / "sp.key").write_text(sp_key)
    (tmp_path / "sp.crt").write_text(sp_cert)
    (tmp_path / "idp.xml").write_text(saml_idp.entity_xml())
    app.config.update(
        SAML_SP_BASE_URL=saml_idp.BASE_URL,
        SAML_SP_CERT=str(tmp_path / "sp.crt"),
        SAML_SP_KEY=str(tmp_path / "sp.key"),
        SAML_IDP_METADATA=str(tmp_path / "idp.xml"),
    )
    saml_metadata.clear_cache()
    yield app
    saml_metadata.clear_cache()


def start_login(client, next_path: str = "/admin/access") -> tuple[str, str]:
    """GET /saml/login as a browser would; return the AuthnRequest ID and the RelayState."""
    response = client.get("/saml/login", query_string={"next": next_path})
    assert response.status_code == 302, response.get_data(as_text=True)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    request = etree.fromstring(OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0]))
    return request.get("ID"), query["RelayState"][0]


def post_response(app, xml: str, relay_state: str | None):
    """POST a Response to the ACS from a client without cookies (the IdP's cross-site POST)."""
    client = app.test_client()
    form = {"SAMLResponse": saml_idp.b64(xml)}
    if relay_state is not None:
        form["RelayState"] = relay_state
    return client, client.post("/saml/acs", data=form)


def assert_refused(db, client, response, status=(400, 403)) -> None:
    """A clear Swedish refusal, no session anywhere, and the protected page still wants a login."""
    assert response.status_code in status
    text = response.get_data(as_text=True)
    assert "Inloggningen misslyckades" in text and "inte loggats in" in text
    assert "Traceback" not in text and "saml:" not in text.lower()
    db.rollback()  # a fresh snapshot: see what the request committed
    assert db.exec(select(LoginSession)).all() == []
    follow = client.get("/admin/access")
    assert follow.status_code == 302 and "/auth/login" in follow.headers["Location"]
