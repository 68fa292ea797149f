"""Making or uploading our client certificate: where the organisation's name and number come from."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from dnp.connection import status
from dnp.connection.credentials import CredentialError
from dnp.register.models import Organisation

ACTOR = "central@kommun.se"


def _subject(credential, oid) -> str:
    cert = x509.load_pem_x509_certificate(credential.cert_pem.encode())
    return cert.subject.get_attributes_for_oid(oid)[0].value


def test_without_an_organiser_a_name_must_be_given(app, db):
    with pytest.raises(CredentialError, match="Ange organisationens namn"):
        status.generate_certificate(app.config, ACTOR, "  ", "SE2120001234", session=db)
    made = status.generate_certificate(app.config, ACTOR, " Testkommunen ", " SE2120001234 ", session=db)
    assert _subject(made, NameOID.ORGANIZATION_NAME) == "Testkommunen"
    assert _subject(made, NameOID.ORGANIZATION_IDENTIFIER) == "SE2120001234"


def test_the_register_names_the_organiser_and_its_number_wins(app, db):
    db.add(
        Organisation(
            id="3af0280b-53df-5927-9681-39e13bb995e5",
            organisation_type="Huvudman",
            organisation_number="2120001234",
            display_name="Registerkommunen",
        )
    )
    db.flush()
    made = status.generate_certificate(app.config, ACTOR, "", "SE5560000000", session=db)
    assert _subject(made, NameOID.ORGANIZATION_NAME) == "Registerkommunen"
    assert _subject(made, NameOID.ORGANIZATION_IDENTIFIER) == "SE2120001234"  # not the number typed in


def test_an_upload_needs_both_halves(app, db):
    with pytest.raises(CredentialError, match="både certifikat och nyckel"):
        status.store_uploaded(app.config, ACTOR, b"-----BEGIN CERTIFICATE-----", b"", session=db)
