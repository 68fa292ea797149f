"""SAML sign-in end to end: responses signed by a throwaway IdP key, posted to /saml/acs."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.auth.models import LoginSession
from dnp.auth.models import SamlRequest
from dnp.auth.models import UsedAssertion
from dnp.auth.models import UserAccount
from dnp.types import utcnow
from tests import factories
from tests.auth import saml_idp
from tests.auth.saml_fixtures import assert_refused
from tests.auth.saml_fixtures import post_response
from tests.auth.saml_fixtures import start_login
from tests.helpers import grant
from tests.helpers import login
from tests.helpers import send

EPPN = "anna.andersson@" + saml_idp.SCOPE


@pytest.fixture
def admin(saml_app):
    grant(saml_app, EPPN, "central_admin")
    return saml_app


def test_login_redirects_to_idp_with_a_stored_request(saml_app, client, db):
    response = client.get("/saml/login?next=/admin/access")
    location = response.headers["Location"]
    assert response.status_code == 302 and location.startswith(saml_idp.SSO_URL + "?")
    query = parse_qs(urlsplit(location).query)
    assert "Signature" not in query  # saml2int: AuthnRequests are not signed
    request = etree.fromstring(OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0]))
    assert request.get("AssertionConsumerServiceURL") == saml_idp.ACS
    assert request.get("Destination") == saml_idp.SSO_URL
    assert request.find("saml:Issuer", saml_idp.NS).text == saml_idp.SP_ENTITY
    rows = db.exec(select(SamlRequest)).all()
    assert len(rows) == 1
    assert rows[0].request_id == request.get("ID") and rows[0].next_path == "/admin/access"
    assert rows[0].token_hash != query["RelayState"][0]  # only a hash of the token is stored
    assert rows[0].consumed is None


def test_valid_response_signs_in(admin, client, db):
    request_id, relay = start_login(client)
    xml = saml_idp.make_response(
        request_id, extra_attributes={"urn:oid:2.16.840.1.113730.3.1.241": ["Anna A"]}
    )
    browser, response = post_response(admin, xml, relay)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/access"
    assert browser.get("/admin/access").status_code == 200
    session = db.exec(select(LoginSession)).one()
    assert session.eppn == EPPN and session.method == "saml"
    assert db.get(UserAccount, EPPN).display_name == "Anna A"
    assert db.exec(select(UsedAssertion)).one().expires > utcnow() + timedelta(minutes=5)
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "auth.login")).one()
    assert audit.actor == EPPN and audit.after == {"method": "saml"}


def test_plain_attribute_name_and_given_name_plus_sn(admin, client, db):
    request_id, relay = start_login(client)
    names = {"urn:oid:2.5.4.42": ["Anna"], "urn:oid:2.5.4.4": ["Andersson"]}
    xml = saml_idp.make_response(request_id, eppn_name="eduPersonPrincipalName", extra_attributes=names)
    browser, response = post_response(admin, xml, relay)
    assert response.status_code == 302
    assert browser.get("/admin/access").status_code == 200
    assert db.get(UserAccount, EPPN).display_name == "Anna Andersson"


def test_scope_compare_ignores_case_and_person_without_role_sees_no_access(saml_app, client, db):
    request_id, relay = start_login(client)
    xml = saml_idp.make_response(request_id, eppn_values=["nisse@SKOLA.Example.SE"])
    browser, response = post_response(saml_app, xml, relay)
    assert response.headers["Location"].endswith("/auth/no-access")
    assert db.exec(select(LoginSession)).one().eppn == "nisse@skola.example.se"


def test_an_eppn_in_another_letter_case_signs_in_as_the_granted_user(admin, client, db):
    request_id, relay = start_login(client)
    xml = saml_idp.make_response(request_id, eppn_values=["Anna.Andersson@" + saml_idp.SCOPE.upper()])
    browser, response = post_response(admin, xml, relay)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/access"
    assert browser.get("/admin/access").status_code == 200  # the central administrator's role
    assert db.exec(select(LoginSession)).one().eppn == EPPN
    assert db.exec(select(UserAccount.eppn)).all() == [EPPN]  # one account, not a new stranger


def test_the_idp_name_of_a_protected_person_is_neither_kept_nor_shown(admin, client, db):

    eppn = "q7781@" + saml_idp.SCOPE
    person = factories.person(
        None,
        givenName="Kanariezq",
        familyName="Fågelzq",
        eduPersonPrincipalNames=["Q7781@" + saml_idp.SCOPE],  # the register's case differs from the IdP's
        securityMarking="Skyddad folkbokföring",
        aliasGivenName="Zara",
        aliasFamilyName="Zzalias",
    )
    assert send(client, "PUT", "persons", [person]).status_code == 201
    grant(admin, eppn, "operator")
    request_id, relay = start_login(client, "/ops/")
    names = {"urn:oid:2.16.840.1.113730.3.1.241": ["Kanariezq Fågelzq"]}
    browser, response = post_response(
        admin, saml_idp.make_response(request_id, eppn_values=[eppn], extra_attributes=names), relay
    )
    assert response.headers["Location"] == "/ops/"
    own_page = browser.get("/ops/").get_data(as_text=True)
    assert "Zara Zzalias" in own_page and "Kanariezq" not in own_page
    assert db.get(UserAccount, eppn).display_name == ""

    login(client, admin, EPPN)
    access_page = client.get("/admin/access").get_data(as_text=True)
    assert "Zara Zzalias" in access_page and "Kanariezq" not in access_page
    assert "<li>" not in client.get("/admin/access/people?eppn=Kanariezq").get_data(as_text=True)


def test_encrypted_assertion_is_decrypted_and_accepted(admin, client):
    request_id, relay = start_login(client)
    signed = saml_idp.sign_xml(saml_idp.assertion_xml(request_id), "idp")
    encrypted = saml_idp.encrypt_assertion(signed, saml_idp.keypair("sp")[1])
    browser, response = post_response(admin, saml_idp.response_xml(encrypted, request_id), relay)
    assert response.status_code == 302
    assert browser.get("/admin/access").status_code == 200


def _extra_assertion_first(request_id):
    good = saml_idp.make_response(request_id)
    evil = saml_idp.assertion_xml(request_id, eppn_values=["rektor@" + saml_idp.SCOPE])
    return good.replace("<saml:Assertion", evil + "<saml:Assertion", 1)


def _signed_assertion_in_advice(request_id):
    signed = saml_idp.sign_xml(saml_idp.assertion_xml(request_id), "idp")
    evil = saml_idp.assertion_xml(request_id, eppn_values=["rektor@" + saml_idp.SCOPE])
    evil = evil.replace("<saml:AuthnStatement", f"<saml:Advice>{signed}</saml:Advice><saml:AuthnStatement", 1)
    return saml_idp.response_xml(evil, request_id)


def _signed_assertion_in_extensions(request_id):
    signed = saml_idp.sign_xml(saml_idp.assertion_xml(request_id), "idp")
    evil = saml_idp.assertion_xml(request_id, eppn_values=["rektor@" + saml_idp.SCOPE])
    xml = saml_idp.response_xml(evil, request_id)
    return xml.replace("<samlp:Status>", f"<samlp:Extensions>{signed}</samlp:Extensions><samlp:Status>", 1)


def _signature_copied_to_evil_assertion(request_id):
    signed = saml_idp.sign_xml(saml_idp.assertion_xml(request_id), "idp")
    signature = re.search(r"<ds:Signature.*</ds:Signature>", signed, re.S).group(0)
    assertion_id = re.search(r'ID="([^"]+)"', signed).group(1)
    evil = saml_idp.assertion_xml(request_id, eppn_values=["rektor@" + saml_idp.SCOPE])
    evil = re.sub(r'ID="[^"]+"', f'ID="{assertion_id}"', evil, count=1)
    evil = evil.replace("</saml:Issuer>", "</saml:Issuer>" + signature, 1)
    return saml_idp.response_xml(evil, request_id)


def _tampered_attribute(request_id):
    return saml_idp.make_response(request_id).replace("anna.andersson@", "rektor@")


def _idp_initiated_assertion_wrapped(request_id):
    # A genuine signed assertion with no InResponseTo, in a Response that claims our request id.
    signed = saml_idp.sign_xml(saml_idp.assertion_xml(None), "idp")
    return saml_idp.response_xml(signed, request_id)


def _response_signed_not_assertion(request_id):
    unsigned = saml_idp.response_xml(saml_idp.assertion_xml(request_id), request_id)
    return saml_idp.sign_xml(unsigned, "idp")


def _two_eppn_attributes(request_id):
    other = {"eduPersonPrincipalName": ["rektor@" + saml_idp.SCOPE]}
    return saml_idp.make_response(request_id, extra_attributes=other)


# Each case, and the reason the log must give: a refusal for the wrong reason would hide a gap.
REFUSED = {
    "unsigned": (lambda rid: saml_idp.make_response(rid, signer=None), "is not signed"),
    "wrong key": (lambda rid: saml_idp.make_response(rid, signer="evil"), "Signature validation failed"),
    "deprecated rsa-sha1": (lambda rid: saml_idp.make_response(rid, algorithm=C.RSA_SHA1), "Deprecated"),
    "xsw extra assertion": (_extra_assertion_first, "must contain 1 assertion"),
    "xsw signed assertion in advice": (_signed_assertion_in_advice, "must contain 1 assertion"),
    "xsw signed assertion in extensions": (_signed_assertion_in_extensions, "must contain 1 assertion"),
    "xsw copied signature": (_signature_copied_to_evil_assertion, "Signature validation failed"),
    "xsw tampered attribute": (_tampered_attribute, "Signature validation failed"),
    "response signed, assertion not": (_response_signed_not_assertion, "is not signed"),
    "expired": (lambda rid: saml_idp.make_response(rid, not_before=-900, not_on_or_after=-400), "expired"),
    "not yet valid": (
        lambda rid: saml_idp.make_response(rid, not_before=900, not_on_or_after=1200),
        "not yet valid",
    ),
    "wrong audience": (
        lambda rid: saml_idp.make_response(rid, audience="https://other-sp.example/"),
        "not a valid audience",
    ),
    "wrong issuer": (
        lambda rid: saml_idp.make_response(rid, issuer="https://idp.other.example/idp"),
        "Invalid issuer",
    ),
    "wrong recipient": (
        lambda rid: saml_idp.make_response(rid, recipient="https://evil.example/?" + saml_idp.ACS),
        "Recipient is not our ACS",
    ),
    "wrong in-response-to": (
        lambda rid: saml_idp.make_response("_someone_elses_request"),
        "does not match the ID of the AuthNRequest",
    ),
    "wrong in-response-to in assertion only": (
        lambda rid: saml_idp.response_xml(
            saml_idp.sign_xml(saml_idp.assertion_xml("_someone_elses_request"), "idp"), rid
        ),
        "valid SubjectConfirmation was not found",
    ),
    "idp-initiated assertion wrapped": (_idp_initiated_assertion_wrapped, "InResponseTo is not our request"),
    "unsolicited (no in-response-to)": (
        lambda rid: saml_idp.make_response(None),
        "Response/@InResponseTo missing",
    ),
    "out-of-scope eppn": (
        lambda rid: saml_idp.make_response(rid, eppn_values=["rektor@annan-skola.se"]),
        "scope 'annan-skola.se' is not one the IdP declares",
    ),
    "eppn with look-alike scope": (
        lambda rid: saml_idp.make_response(rid, eppn_values=["a@evil" + saml_idp.SCOPE]),
        "is not one the IdP declares",
    ),
    "two eppn values": (
        lambda rid: saml_idp.make_response(rid, eppn_values=[EPPN, "rektor@" + saml_idp.SCOPE]),
        "2 different eduPersonPrincipalName values",
    ),
    "two eppn attributes": (_two_eppn_attributes, "2 different eduPersonPrincipalName values"),
    "missing eppn": (lambda rid: saml_idp.make_response(rid, eppn_name=None), "no eduPersonPrincipalName"),
    "malformed eppn": (
        lambda rid: saml_idp.make_response(rid, eppn_values=["anna.andersson"]),
        "malformed eduPersonPrincipalName",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_bad_response_is_refused(admin, client, db, case, caplog):
    build, reason = REFUSED[case]
    request_id, relay = start_login(client)
    browser, response = post_response(admin, build(request_id), relay)
    assert_refused(db, browser, response)
    assert db.exec(select(UsedAssertion)).all() == []
    assert reason in caplog.text
    # No EPPN in the log for a refused sign-in.
    assert "rektor@" not in caplog.text and "anna.andersson@" not in caplog.text


def test_identity_problems_are_403_and_say_so(admin, client, db):
    request_id, relay = start_login(client)
    browser, response = post_response(admin, saml_idp.make_response(request_id, eppn_name=None), relay)
    assert response.status_code == 403
    assert "eduPersonPrincipalName" in response.get_data(as_text=True)


@pytest.mark.parametrize("relay", [None, "", "not-a-token-we-issued"])
def test_unsolicited_response_without_our_relay_state_is_refused(admin, client, db, relay):
    request_id, _ = start_login(client)
    browser, response = post_response(admin, saml_idp.make_response(request_id), relay)
    assert_refused(db, browser, response, status=(400,))
    assert "Börja om från inloggningssidan" in response.get_data(as_text=True)


def test_expired_request_is_refused(admin, client, db):
    request_id, relay = start_login(client)
    row = db.exec(select(SamlRequest)).one()
    row.created = utcnow() - timedelta(minutes=11)
    db.add(row)
    db.commit()
    browser, response = post_response(admin, saml_idp.make_response(request_id), relay)
    assert_refused(db, browser, response, status=(400,))


def test_replayed_response_is_refused(admin, client, db):
    request_id, relay = start_login(client)
    xml = saml_idp.make_response(request_id)
    first_browser, first = post_response(admin, xml, relay)
    assert first.status_code == 302
    db.exec(select(LoginSession)).one()
    # The same POST again (same token), and with a token of a new login of the attacker's own.
    _, again = post_response(admin, xml, relay)
    _, other_relay = start_login(admin.test_client())
    _, with_new_token = post_response(admin, xml, other_relay)
    for response in (again, with_new_token):
        assert response.status_code == 400
        assert "Inloggningen misslyckades" in response.get_data(as_text=True)
    db.rollback()
    assert len(db.exec(select(LoginSession)).all()) == 1


def test_used_assertion_id_is_refused_even_with_a_fresh_request(admin, client, db):
    request_id, relay = start_login(client)
    xml = saml_idp.make_response(request_id)
    assertion_id = re.search(r'<saml:Assertion[^>]* ID="([^"]+)"', xml).group(1)
    db.add(UsedAssertion(assertion_id=assertion_id, expires=utcnow() + timedelta(hours=1)))
    db.commit()
    browser, response = post_response(admin, xml, relay)
    assert_refused(db, browser, response, status=(400,))


def test_refused_response_still_spends_the_token(admin, client, db):
    request_id, relay = start_login(client)
    post_response(admin, saml_idp.make_response(request_id, signer="evil"), relay)
    browser, response = post_response(admin, saml_idp.make_response(request_id), relay)
    assert_refused(db, browser, response, status=(400,))


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/x",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:x",
        "/admin/access\n",
        "/admin/access\r",
        "/admin/access\r\nSet-Cookie: x=1",
        "/\t/evil.example",
    ],
)
def test_next_to_another_host_is_ignored(admin, client, db, target):
    request_id, relay = start_login(client, next_path=target)
    assert db.exec(select(SamlRequest)).one().next_path == "/"
    _, response = post_response(admin, saml_idp.make_response(request_id), relay)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_not_configured_is_a_clear_503(app, client, db):
    response = client.get("/saml/login")
    assert response.status_code == 503
    assert "inte tillgänglig" in response.get_data(as_text=True)
    assert db.exec(select(SamlRequest)).all() == []
    _, acs = post_response(app, "<x/>", "token")
    assert acs.status_code == 503


def test_garbage_post_is_refused_cleanly(admin, client, db):
    _, relay = start_login(client)
    browser = admin.test_client()
    response = browser.post("/saml/acs", data={"SAMLResponse": "%%% not base64", "RelayState": relay})
    assert_refused(db, browser, response, status=(400,))


def test_old_requests_and_assertions_are_purged(saml_app, client, db):
    db.add(SamlRequest(token_hash="a" * 64, request_id="_old", created=utcnow() - timedelta(hours=1)))
    db.add(UsedAssertion(assertion_id="_old", expires=utcnow() - timedelta(minutes=1)))
    db.add(UsedAssertion(assertion_id="_live", expires=utcnow() + timedelta(minutes=1)))
    db.commit()
    start_login(client)
    db.rollback()
    assert [r.request_id for r in db.exec(select(SamlRequest)).all()] != ["_old"]
    assert db.get(SamlRequest, "a" * 64) is None
    assert [a.assertion_id for a in db.exec(select(UsedAssertion)).all()] == ["_live"]


def test_anonymous_login_requests_cannot_grow_the_table_without_bound(saml_app, client, db):
    saml_app.config["SAML_MAX_OPEN_REQUESTS"] = 5
    db.add(SamlRequest(token_hash="c" * 64, request_id="_consumed", consumed=utcnow()))
    db.commit()
    first_id, first_relay = start_login(client)
    for _ in range(11):
        start_login(client)
    db.rollback()
    rows = db.exec(select(SamlRequest)).all()
    assert len(rows) == 5
    assert db.get(SamlRequest, "c" * 64) is None  # a spent token need not be kept either
    # The newest requests are the ones kept: the first one was dropped and can no longer be used.
    assert first_id not in {row.request_id for row in rows}
    _, response = post_response(saml_app, saml_idp.make_response(first_id), first_relay)
    assert response.status_code == 400
    latest_id, latest_relay = start_login(client)
    grant(saml_app, EPPN, "central_admin")
    _, response = post_response(saml_app, saml_idp.make_response(latest_id), latest_relay)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/access"
