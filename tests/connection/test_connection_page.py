"""The Skolverket connection page: certificates, Moa entry, the connection test, the checklist."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.connection.certificates import generate_client_certificate
from dnp.connection.models import ClientCredential
from tests.helpers import csrf_token
from tests.helpers import grant
from tests.helpers import login
from tests.helpers import self_signed_pem
from tests.helpers import send
from tests.helpers import signed_in

CENTRAL = "central@kommun.se"


@pytest.fixture
def central(app, client):
    huvudman = {
        "id": "3af0280b-53df-5927-9681-39e13bb995e5",
        "organisationType": "Huvudman",
        "organisationNumber": "2120001234",
        "displayName": "Testkommunen",
    }
    assert send(client, "PUT", "organisations", [huvudman]).status_code == 201
    return signed_in(client, app, CENTRAL, "central_admin")


def _post(client, path, **data):
    return client.post(
        f"/installningar/skolverket{path}", data=data, headers={"X-CSRFToken": csrf_token(client)}
    )


def _upload(client, cert_pem, key_pem):
    """Upload a certificate and key (PEM, as bytes or text) on the connection page."""
    text = [value.decode() if isinstance(value, bytes) else value for value in (cert_pem, key_pem)]
    return _post(client, "/certifikat", action="upload", cert_pem=text[0], key_pem=text[1])


def test_generate_shows_certificate_and_a_correct_moa_entry(central, db):
    response = _post(central, "/certifikat", action="generate")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    credential = db.exec(select(ClientCredential)).one()
    assert "PRIVATE KEY" not in credential.key_encrypted  # encrypted at rest
    page = central.get("/installningar/skolverket").get_data(as_text=True)
    entry = json.loads(
        re.search(r'<pre class="moa" id="moa-entry" tabindex="0">(.*?)</pre>', page, re.S)
        .group(1)
        .replace("&#34;", '"')
    )
    assert entry["organization_id"] == "SE2120001234"
    cert = x509.load_pem_x509_certificate(credential.cert_pem.encode())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    assert pin in json.dumps(entry)
    assert "gnapv1" in json.dumps(entry)
    assert "PRIVATE" not in json.dumps(entry)
    assert (
        db.exec(select(AuditEvent).where(AuditEvent.action == "connection.certificate_generated")).one().actor
        == CENTRAL
    )


def test_upload_refuses_a_key_that_does_not_belong(central, db):
    one = generate_client_certificate(organization="A", organization_id="SE2120001234", common_name="a")
    other = generate_client_certificate(organization="B", organization_id="SE2120001234", common_name="b")
    response = _upload(central, one.cert_pem, other.key_pem)
    assert response.status_code == 422
    assert "hör inte till" in response.get_data(as_text=True)
    assert db.exec(select(ClientCredential)).first() is None
    garbage = _upload(central, "nej", "nej")
    assert garbage.status_code == 422


def test_connection_test_in_words(app, central, db, auth_server, tmp_path):
    app.config.update(
        AUTH_SERVER_URL=auth_server.transaction_url, TLS_CA_BUNDLE=str(auth_server.ca_bundle_path)
    )
    good = auth_server.make_client_cert(tmp_path, registered=True)
    ok = _upload(central, good.cert_path.read_text(), good.key_path.read_text())
    assert ok.status_code == 200
    passed = _post(central, "/test").get_data(as_text=True)
    assert "Token hämtades" in passed
    bad = auth_server.make_client_cert(tmp_path, registered=False)
    _upload(central, bad.cert_path.read_text(), bad.key_path.read_text())
    failed = _post(central, "/test", certificate="new")
    assert "Fungerar inte" in failed.get_data(as_text=True)
    assert "Det nya certifikatet" in failed.get_data(as_text=True)
    checklist = central.get("/installningar/forberedelser").get_data(as_text=True)
    assert "Klientcertifikat finns och är giltigt" in checklist
    assert checklist.count("Att göra") >= 3


def test_expiring_certificate_warns_central_admins(app, central, db):
    soon = generate_client_certificate(
        organization="A", organization_id="SE2120001234", common_name="a", days=10
    )
    _upload(central, soon.cert_pem, soon.key_pem)
    page = central.get("/admin/audit").get_data(as_text=True)
    assert "går ut om" in page
    grant(app, "rektor@kommun.se", "operator")
    other = app.test_client()
    login(other, app, "rektor@kommun.se")
    assert "går ut om" not in other.get("/ops/").get_data(as_text=True)


def test_checklist_starts_with_everything_to_do(central):
    page = central.get("/installningar/forberedelser").get_data(as_text=True)
    assert page.count("Att göra") == 6


def test_an_expiring_certificate_is_announced_on_central_pages_only(app, central, client, tmp_path):
    expiring = generate_client_certificate(
        organization="Testkommunen", organization_id="SE2120001234", common_name="dnp", days=10
    )
    uploaded = _upload(central, expiring.cert_pem, expiring.key_pem)
    assert uploaded.status_code == 200, uploaded.get_data(as_text=True)[:500]
    page = central.get("/provgrupper/").get_data(as_text=True)
    assert 'class="cert-banner"' in page and "går ut om" in page
    fragment = central.get("/installningar/skolverket", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Klientcertifikat" in fragment and "cert-banner" not in fragment  # no layout, no lookup
    with app.test_client() as other:
        signed_in(other, app, "unit@kommun.se", "operator")
        assert "cert-banner" not in other.get("/ops").get_data(as_text=True)


def _usable_pair():
    made = generate_client_certificate(organization="A", organization_id="SE2120001234", common_name="a")
    return made.cert_pem, made.key_pem


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (
            lambda: self_signed_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),  # noqa: S505
            "1024 bitar",
        ),
        (lambda: self_signed_pem(ed25519.Ed25519PrivateKey.generate()), "Ed25519 stöds inte"),
        (
            lambda: self_signed_pem(
                ec.generate_private_key(ec.SECP256R1()),
                start=dt.datetime.now(dt.UTC) - dt.timedelta(days=30),
                days=10,
            ),
            "gick ut",
        ),
        (
            lambda: self_signed_pem(
                ec.generate_private_key(ec.SECP256R1()), start=dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
            ),
            "gäller först från",
        ),
    ],
)
def test_upload_refuses_what_moa_would_refuse_and_keeps_the_working_one(central, db, make, words):
    working = _upload(central, *_usable_pair())
    assert working.status_code == 200
    in_use = db.exec(select(ClientCredential)).one()
    response = _upload(central, *make())
    assert response.status_code == 422
    assert words in response.get_data(as_text=True)
    db.expire_all()
    assert [(c.id, c.active, c.pending) for c in db.exec(select(ClientCredential)).all()] == [
        (in_use.id, True, False)
    ]


def test_a_new_certificate_waits_until_tested_and_activated(app, central, db, auth_server, tmp_path):
    app.config.update(
        AUTH_SERVER_URL=auth_server.transaction_url, TLS_CA_BUNDLE=str(auth_server.ca_bundle_path)
    )
    first = auth_server.make_client_cert(tmp_path, registered=True)
    assert _upload(central, first.cert_path.read_text(), first.key_path.read_text()).status_code == 200
    working = db.exec(select(ClientCredential)).one()
    assert working.active and not working.pending

    second = auth_server.make_client_cert(tmp_path, registered=True, name="second")
    uploaded = _upload(central, second.cert_path.read_text(), second.key_path.read_text())
    page = uploaded.get_data(as_text=True)
    assert uploaded.status_code == 200 and "Det används inte än" in page
    assert "Nytt certifikat, inte aktiverat än" in page
    db.expire_all()
    new = db.exec(select(ClientCredential).where(ClientCredential.pending.is_(True))).one()
    assert not new.active and db.get(ClientCredential, working.id).active
    # The Moa entry carries both, so the working certificate stays registered during the switch.
    entry = json.loads(
        re.search(r'<pre class="moa" id="moa-entry" tabindex="0">(.*?)</pre>', page, re.S)
        .group(1)
        .replace("&#34;", '"')
    )
    assert len(entry["clients"][0]["pins"]) == 2
    # Deliveries still use the working certificate.
    from dnp.connection.credentials import certificate_files

    cert_path, _ = certificate_files(app.config, session=db)
    assert Path(cert_path).read_text() == working.cert_pem

    tested = _post(central, "/test", certificate="new").get_data(as_text=True)
    assert "Det nya certifikatet: Token hämtades" in tested
    activated = _post(central, "/certifikat/aktivera", credential_id=str(new.id))
    assert activated.status_code == 200 and "Det nya certifikatet används nu" in activated.get_data(
        as_text=True
    )
    db.expire_all()
    assert db.get(ClientCredential, new.id).active and not db.get(ClientCredential, new.id).pending
    assert not db.get(ClientCredential, working.id).active
    audit = db.exec(select(AuditEvent).where(AuditEvent.action == "connection.certificate_activated")).one()
    assert audit.actor == CENTRAL and audit.entity_id == str(new.id)
    assert audit.before == {"credential": working.id}
    assert "Token hämtades" in _post(central, "/test").get_data(as_text=True)
    # Nothing pending any more: activating again is refused in words.
    again = _post(central, "/certifikat/aktivera", credential_id=str(new.id))
    assert again.status_code == 422 and "inget nytt certifikat" in again.get_data(as_text=True)


def test_a_pending_certificate_can_be_discarded(central, db):
    _upload(central, *_usable_pair())
    _upload(central, *_usable_pair())
    assert db.exec(select(ClientCredential).where(ClientCredential.pending.is_(True))).one()
    response = _post(central, "/certifikat/slang")
    assert "slängdes" in response.get_data(as_text=True)
    db.expire_all()
    assert db.exec(select(ClientCredential).where(ClientCredential.pending.is_(True))).first() is None
    assert len(db.exec(select(ClientCredential).where(ClientCredential.active.is_(True))).all()) == 1
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "connection.certificate_discarded")).one()
