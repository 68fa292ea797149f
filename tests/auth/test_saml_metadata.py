"""Metadata both ways: our SP metadata, and IdP metadata or a signed federation aggregate."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from sqlmodel import select

from dnp import create_app
from dnp.auth.models import SamlRequest
from dnp.auth.saml import metadata as saml_metadata
from dnp.auth.saml import sp as saml
from dnp.auth.saml.metadata import MetadataError
from dnp.auth.saml.metadata import read_idp
from dnp.types import utcnow
from tests.auth import saml_idp
from tests.auth.saml_fixtures import assert_refused
from tests.auth.saml_fixtures import post_response
from tests.auth.saml_fixtures import start_login
from tests.helpers import grant

OTHER_IDP = "https://idp.annan-skola.example.se/idp"
EVIL_IDP = "https://evil-idp.example/idp"


def test_sp_metadata(saml_app, client):
    saml_app.config.update(SAML_CONTACT_EMAIL="dnp@kommun.se", SAML_ORGANIZATION_NAME="Kommun & Skola")
    saml_app.config["SAML_ORGANIZATION_URL"] = "https://kommun.se"
    response = client.get("/saml/metadata")
    assert response.status_code == 200 and response.mimetype == "application/samlmetadata+xml"
    xml = response.get_data()
    root = etree.fromstring(xml)
    ns = saml_idp.NS
    assert root.get("entityID") == saml_idp.SP_ENTITY
    assert root.get("validUntil") is None and root.get("cacheDuration") is None
    sp = root.find("md:SPSSODescriptor", ns)
    assert sp.get("WantAssertionsSigned") == "true" and sp.get("AuthnRequestsSigned") == "false"
    acs = sp.find("md:AssertionConsumerService", ns)
    assert acs.get("Location") == saml_idp.ACS and acs.get("Binding") == C.BINDING_HTTP_POST
    assert sp.find("md:SingleLogoutService", ns).get("Location") == saml_idp.SLS
    body = saml_idp.cert_body(saml_idp.keypair("sp")[1])
    keys = {
        k.get("use"): k.findtext(".//ds:X509Certificate", namespaces=ns)
        for k in sp.findall("md:KeyDescriptor", ns)
    }
    assert keys == {"signing": body, "encryption": body}
    eppn = sp.find(f'.//md:RequestedAttribute[@Name="{saml_idp.EPPN_OID}"]', ns)
    assert eppn.get("isRequired") == "true" and eppn.get("FriendlyName") == "eduPersonPrincipalName"
    assert root.findtext("md:Organization/md:OrganizationName", namespaces=ns) == "Kommun & Skola"
    assert root.find('md:ContactPerson[@contactType="technical"]', ns) is not None
    settings = OneLogin_Saml2_Settings(
        saml.settings(saml.sp_config(saml_app.config)), sp_validation_only=True
    )
    assert settings.validate_metadata(xml) == []


def test_sp_metadata_needs_configuration(app, client):
    response = client.get("/saml/metadata")
    assert response.status_code == 503
    assert "inte tillgänglig" in response.get_data(as_text=True)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def federation(saml_app, tmp_path):
    """The app reading a signed two-IdP aggregate, verified with the federation certificate."""
    aggregate = saml_idp.aggregate_xml(
        saml_idp.entity_xml(OTHER_IDP, certs=(saml_idp.keypair("other-idp")[1],), scopes=("annan-skola.se",)),
        saml_idp.entity_xml(),
    )
    saml_app.config.update(
        SAML_IDP_METADATA=_write(tmp_path, "aggregate.xml", saml_idp.sign_xml(aggregate)),
        SAML_FEDERATION_CERT=_write(tmp_path, "federation.crt", saml_idp.keypair("federation")[1]),
        SAML_IDP_ENTITY_ID=saml_idp.IDP_ENTITY,
    )
    return saml_app


def test_sign_in_through_a_signed_federation_aggregate(federation, client, db):
    grant(federation, "anna@" + saml_idp.SCOPE, "central_admin")
    request_id, relay = start_login(client)
    xml = saml_idp.make_response(request_id, eppn_values=["anna@" + saml_idp.SCOPE])
    browser, response = post_response(federation, xml, relay)
    assert response.status_code == 302
    assert browser.get("/admin/access").status_code == 200


def test_other_idps_in_the_aggregate_cannot_sign_in(federation, client, db):
    # The other IdP is in the same signed aggregate, but it is not the one we trust.
    request_id, relay = start_login(client)
    xml = saml_idp.make_response(
        request_id, signer="other-idp", issuer=OTHER_IDP, eppn_values=["rektor@annan-skola.se"]
    )
    browser, response = post_response(federation, xml, relay)
    assert_refused(db, browser, response)


def _wrapped(signed: str, copy_id: bool = False) -> str:
    # The prototype's attack: the signed aggregate nested under a new root with an injected IdP.
    root = etree.fromstring(signed.encode())
    signature = root.find("ds:Signature", saml_idp.NS)
    root.remove(signature)
    new_root = etree.Element(f"{{{C.NS_MD}}}EntitiesDescriptor", nsmap=root.nsmap)
    new_root.set("validUntil", "2099-01-01T00:00:00Z")
    if copy_id:  # the new root claims the signed element's ID too
        new_root.set("ID", root.get("ID"))
    new_root.append(signature)
    new_root.append(root)
    new_root.append(etree.fromstring(saml_idp.entity_xml(EVIL_IDP, certs=(saml_idp.keypair("evil")[1],))))
    return etree.tostring(new_root).decode()


def _aggregate():
    return saml_idp.aggregate_xml(saml_idp.entity_xml())


BAD_AGGREGATES = {
    "unsigned": (lambda: _aggregate(), "exactly one signature"),
    "wrong signer": (lambda: saml_idp.sign_xml(_aggregate(), "evil"), "does not verify"),
    "tampered scope": (
        lambda: saml_idp.sign_xml(_aggregate()).replace(f">{saml_idp.SCOPE}<", ">annan-skola.se<"),
        "does not verify",
    ),
    "wrapped": (lambda: _wrapped(saml_idp.sign_xml(_aggregate())), "does not cover the root"),
    "wrapped, ID copied": (
        lambda: _wrapped(saml_idp.sign_xml(_aggregate()), copy_id=True),
        "does not cover the root",
    ),
    "rsa-sha1": (lambda: saml_idp.sign_xml(_aggregate(), algorithm=C.RSA_SHA1, digest=C.SHA1), "deprecated"),
    "expired": (
        lambda: saml_idp.sign_xml(
            saml_idp.aggregate_xml(saml_idp.entity_xml(), valid_until="2020-01-01T00:00:00Z")
        ),
        "expired",
    ),
    "no validUntil": (
        lambda: saml_idp.sign_xml(saml_idp.aggregate_xml(saml_idp.entity_xml(), valid_until=None)),
        "no validUntil",
    ),
    "entity expired": (
        lambda: saml_idp.sign_xml(
            saml_idp.aggregate_xml(saml_idp.entity_xml(valid_until="2020-01-01T00:00:00Z"))
        ),
        "entity has expired",
    ),
    "not xml": (lambda: "<md:EntitiesDescriptor", "not well-formed"),
    "doctype": (
        lambda: '<!DOCTYPE x [<!ENTITY e "x">]>' + saml_idp.sign_xml(_aggregate()),
        "not well-formed",
    ),
}


@pytest.mark.parametrize("case", BAD_AGGREGATES)
def test_bad_aggregate_is_refused(tmp_path, case):
    build, reason = BAD_AGGREGATES[case]
    source = _write(tmp_path, "aggregate.xml", build())
    cert = _write(tmp_path, "federation.crt", saml_idp.keypair("federation")[1])
    with pytest.raises(MetadataError, match=reason):
        read_idp(source, saml_idp.IDP_ENTITY, cert, utcnow())


def test_wrapped_aggregate_would_not_hide_the_injected_idp(tmp_path):
    cert = _write(tmp_path, "federation.crt", saml_idp.keypair("federation")[1])
    source = _write(tmp_path, "aggregate.xml", _wrapped(saml_idp.sign_xml(_aggregate())))
    with pytest.raises(MetadataError):
        read_idp(source, EVIL_IDP, cert, utcnow())


def test_good_aggregate_gives_endpoints_certs_and_scopes(tmp_path):
    rollover = (saml_idp.keypair("idp")[1], saml_idp.keypair("idp-next")[1])
    entity = saml_idp.entity_xml(certs=rollover, scopes=(saml_idp.SCOPE, "Elev.Skola.Example.se"))
    regexp_scope = '<shibmd:Scope regexp="true">.*</shibmd:Scope>'
    entity = entity.replace("</md:Extensions>", regexp_scope + "</md:Extensions>", 1)
    source = _write(tmp_path, "aggregate.xml", saml_idp.sign_xml(saml_idp.aggregate_xml(entity)))
    cert = _write(tmp_path, "federation.crt", saml_idp.keypair("federation")[1])
    idp = read_idp(source, None, cert, utcnow())  # one IdP: no entity id needed
    assert idp.entity_id == saml_idp.IDP_ENTITY
    assert idp.sso_url == saml_idp.SSO_URL and idp.slo_url == saml_idp.SLO_URL
    assert idp.certs == tuple(saml_idp.cert_body(c) for c in rollover)
    assert idp.scopes == {saml_idp.SCOPE, "elev.skola.example.se"}  # regexp scopes are not trusted
    assert idp.valid_until.year == 2099


def test_several_idps_need_an_entity_id(tmp_path):
    aggregate = saml_idp.aggregate_xml(saml_idp.entity_xml(OTHER_IDP), saml_idp.entity_xml())
    source = _write(tmp_path, "aggregate.xml", aggregate)
    with pytest.raises(MetadataError, match="found 2"):
        read_idp(source, None, None, utcnow())
    with pytest.raises(MetadataError, match="found 0"):
        read_idp(source, "https://not-there.example/idp", None, utcnow())
    assert read_idp(source, OTHER_IDP, None, utcnow()).entity_id == OTHER_IDP


def test_key_rollover_accepts_the_new_key(saml_app, client, tmp_path):
    certs = (saml_idp.keypair("idp")[1], saml_idp.keypair("idp-next")[1])
    saml_app.config["SAML_IDP_METADATA"] = _write(tmp_path, "idp2.xml", saml_idp.entity_xml(certs=certs))
    grant(saml_app, "anna@" + saml_idp.SCOPE, "central_admin")
    request_id, relay = start_login(client)
    xml = saml_idp.make_response(request_id, signer="idp-next", eppn_values=["anna@" + saml_idp.SCOPE])
    browser, response = post_response(saml_app, xml, relay)
    assert response.status_code == 302
    assert browser.get("/admin/access").status_code == 200


def test_tampered_aggregate_stops_sign_in(federation, client, db, tmp_path):
    source = federation.config["SAML_IDP_METADATA"]
    with open(source) as f:
        tampered = f.read().replace(f">{saml_idp.SCOPE}<", ">annan-skola.se<")
    with open(source, "w") as f:
        f.write(tampered)
    saml_metadata.clear_cache()
    response = client.get("/saml/login")
    assert response.status_code == 503
    assert db.exec(select(SamlRequest)).all() == []


def test_cache_keeps_the_last_good_copy_when_a_refresh_fails(tmp_path, caplog):
    saml_metadata.clear_cache()
    cert = _write(tmp_path, "federation.crt", saml_idp.keypair("federation")[1])
    source = _write(tmp_path, "aggregate.xml", saml_idp.sign_xml(_aggregate()))
    first = saml_metadata.load_idp(source, saml_idp.IDP_ENTITY, cert, ttl=3600)
    _write(tmp_path, "aggregate.xml", _aggregate())  # unsigned now
    assert saml_metadata.load_idp(source, saml_idp.IDP_ENTITY, cert, ttl=3600) is first  # fresh enough
    assert saml_metadata.load_idp(source, saml_idp.IDP_ENTITY, cert, ttl=0) is first  # refresh failed
    assert "keeping the cached copy" in caplog.text
    saml_metadata.clear_cache()
    with pytest.raises(MetadataError):
        saml_metadata.load_idp(source, saml_idp.IDP_ENTITY, cert, ttl=0)
    saml_metadata.clear_cache()


@pytest.fixture
def metadata_server():
    """A loopback HTTP server handing out whatever ``server.body`` holds."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (stdlib name)
            body = server.body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.body = ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_aggregate_from_a_url(metadata_server, tmp_path):
    url = f"http://127.0.0.1:{metadata_server.server_port}/md/aggregate.xml"
    cert = _write(tmp_path, "federation.crt", saml_idp.keypair("federation")[1])
    metadata_server.body = saml_idp.sign_xml(_aggregate())
    assert read_idp(url, saml_idp.IDP_ENTITY, cert, utcnow()).sso_url == saml_idp.SSO_URL
    with pytest.raises(MetadataError, match="needs SAML_FEDERATION_CERT"):
        read_idp(url, saml_idp.IDP_ENTITY, None, utcnow())
    metadata_server.body = _wrapped(saml_idp.sign_xml(_aggregate()))
    with pytest.raises(MetadataError, match="does not cover the root"):
        read_idp(url, saml_idp.IDP_ENTITY, cert, utcnow())
    with pytest.raises(MetadataError, match="cannot fetch"):
        read_idp("http://127.0.0.1:1/none.xml", saml_idp.IDP_ENTITY, cert, utcnow())


def test_production_refuses_to_start_without_saml(tmp_path):
    base = {"ENV": "production", "SECRET_KEY": "s", "DATABASE_URL": "sqlite://"}
    with pytest.raises(RuntimeError, match="DNP_SAML_SP_BASE_URL.*DNP_SAML_SP_CERT.*DNP_SAML_IDP_METADATA"):
        create_app(base)
    key, cert = saml_idp.keypair("sp")
    settings = {
        "SAML_SP_BASE_URL": saml_idp.BASE_URL,
        "SAML_SP_CERT": _write(tmp_path, "sp.crt", cert),
        "SAML_SP_KEY": _write(tmp_path, "sp.key", key),
        "SAML_IDP_METADATA": "https://fed.example.test/md/aggregate.xml",
    }
    with pytest.raises(RuntimeError, match="DNP_SAML_FEDERATION_CERT"):
        create_app(base | settings)
    fed = _write(tmp_path, "fed.crt", saml_idp.keypair("federation")[1])
    app = create_app(base | settings | {"SAML_FEDERATION_CERT": fed})
    assert app.config["SAML_FEDERATION_CERT"] == fed
    app.extensions["dnp.engine"].dispose()
