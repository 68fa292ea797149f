"""Client certificates for Moa: generation, description, pins and the metadata entry."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed448
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

from dnp.connection.certificates import build_moa_entry
from dnp.connection.certificates import cert_s256
from dnp.connection.certificates import describe_certificate
from dnp.connection.certificates import generate_client_certificate
from dnp.connection.certificates import load_certificate
from dnp.connection.certificates import pair_problem
from dnp.connection.certificates import spki_pin
from tests.helpers import self_signed
from tests.helpers import self_signed_pem
from tests.helpers import shared_ca

ORGANIZATION = "Öckerö kommun, Åre & Älvdalen"
ORGANIZATION_ID = "SE2120001234"
ENTITY_ID = "https://dnp.ockero.se"


@pytest.fixture(scope="module")
def generated():
    return generate_client_certificate(
        organization=ORGANIZATION, organization_id=ORGANIZATION_ID, common_name="DNP notifierare åäö ÅÄÖ"
    )


@pytest.fixture(scope="module")
def cert(generated):
    return x509.load_pem_x509_certificate(generated.cert_pem)


def independent_spki_pin(cert: x509.Certificate) -> str:
    """The pin as `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256 | base64` gives it."""
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


# -- generation -----------------------------------------------------------------------------------


def test_generated_certificate_is_a_self_signed_ec_client_certificate(generated, cert):
    key = serialization.load_pem_private_key(generated.key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=730) <= lifetime <= dt.timedelta(days=731)


def test_swedish_letters_in_the_subject_survive_as_utf8(cert):
    subject = {attribute.oid: attribute.value for attribute in cert.subject}
    assert subject[NameOID.ORGANIZATION_NAME] == ORGANIZATION
    assert subject[NameOID.COMMON_NAME] == "DNP notifierare åäö ÅÄÖ"
    assert subject[NameOID.ORGANIZATION_IDENTIFIER] == ORGANIZATION_ID
    assert subject[NameOID.COUNTRY_NAME] == "SE"
    # In the DER itself: tag 0x0C (UTF8String), the length, then the UTF-8 bytes -- not Latin-1.
    encoded = ORGANIZATION.encode("utf-8")
    der = cert.public_bytes(serialization.Encoding.DER)
    assert bytes([0x0C, len(encoded)]) + encoded in der
    assert ORGANIZATION.encode("latin-1") not in der


def test_subjects_are_unique_per_certificate():
    times = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, 0, 0, 1, tzinfo=dt.UTC)]
    subjects = {
        x509.load_pem_x509_certificate(
            generate_client_certificate(
                organization="Kommun", organization_id=ORGANIZATION_ID, common_name="DNP", now=now
            ).cert_pem
        ).subject
        for now in times
    }
    assert len(subjects) == 2


def test_rsa_3072_on_request():
    generated = generate_client_certificate(
        organization="Kommun", organization_id=ORGANIZATION_ID, common_name="DNP", key_type="rsa"
    )
    public = x509.load_pem_x509_certificate(generated.cert_pem).public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 3072


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"key_type": "dsa"}, "key_type"),
        ({"organization_id": "2120001234"}, "organization_id"),
        ({"organization_id": "SE212000123"}, "organization_id"),
        ({"organization_id": "SE2120001234 "}, "organization_id"),
    ],
)
def test_bad_generation_settings_are_refused(settings, message):
    arguments = {
        "organization": "Kommun",
        "organization_id": ORGANIZATION_ID,
        "common_name": "DNP",
    } | settings
    with pytest.raises(ValueError, match=message):
        generate_client_certificate(**arguments)


def test_write_protects_the_key_and_never_overwrites_it(generated, tmp_path):
    generated.write(tmp_path / "dnp.pem", tmp_path / "dnp.key")
    assert stat.S_IMODE((tmp_path / "dnp.key").stat().st_mode) == 0o600
    assert (tmp_path / "dnp.pem").read_bytes() == generated.cert_pem
    assert (tmp_path / "dnp.key").read_bytes() == generated.key_pem
    with pytest.raises(FileExistsError):
        generated.write(tmp_path / "other.pem", tmp_path / "dnp.key")
    assert (tmp_path / "dnp.key").read_bytes() == generated.key_pem


# -- loading and describing ----------------------------------------------------------------------


def test_load_certificate_from_bytes_text_and_paths(generated, cert, tmp_path):
    path = tmp_path / "cert.pem"
    path.write_bytes(generated.key_pem + generated.cert_pem)  # key first, as in a combined file
    for source in (generated.cert_pem, generated.cert_pem.decode(), path, str(path)):
        assert load_certificate(source) == cert
    with pytest.raises(FileNotFoundError):
        load_certificate(str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError):
        load_certificate(b"-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n")


def test_pins_are_computed_like_openssl_and_rfc8705(cert):
    assert spki_pin(cert) == independent_spki_pin(cert)
    whole = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    assert cert_s256(cert) == base64.urlsafe_b64encode(whole).decode().rstrip("=")
    # The two are different things: the SPKI pin hashes the public key only.
    assert base64.b64decode(spki_pin(cert)) != whole


def test_spki_pin_known_answer():
    # Private scalar 3 on P-256; the pin was computed with
    # `openssl pkey -pubout -outform der | openssl dgst -sha256 -binary | base64`. It contains both
    # "+" and "/", so standard base64 and base64url cannot be confused.
    key = ec.derive_private_key(3, ec.SECP256R1())
    cert = self_signed(key, "known answer", serial=1, days=2)
    assert spki_pin(cert) == "K5hbrfG6yCk/a5LowKzBE5vFpey7+Xpicdzw1PbGivY="
    assert build_moa_entry(
        ENTITY_ID, ORGANIZATION_ID, cert.public_bytes(serialization.Encoding.PEM), organization="Kommun"
    )["clients"][0]["pins"] == [{"alg": "sha256", "digest": "K5hbrfG6yCk/a5LowKzBE5vFpey7+Xpicdzw1PbGivY="}]


def test_describe_certificate(cert):
    now = cert.not_valid_after_utc - dt.timedelta(days=10, hours=1)
    info = describe_certificate(cert, now=now)
    assert "O=Öckerö kommun\\, Åre & Älvdalen" in info.subject
    assert f"organizationIdentifier={ORGANIZATION_ID}" in info.subject
    assert info.issuer == info.subject and info.self_signed
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    assert info.sha256_fingerprint == ":".join(digest[i : i + 2] for i in range(0, 64, 2))
    assert info.spki_pin == independent_spki_pin(cert)
    assert (info.not_before, info.not_after) == (cert.not_valid_before_utc, cert.not_valid_after_utc)
    assert info.days_left == 10
    assert info.key_type == "EC secp256r1"
    assert describe_certificate(cert, now=cert.not_valid_after_utc + dt.timedelta(days=3)).days_left == -3


def test_describe_a_ca_issued_certificate():
    ca = shared_ca()
    issued = x509.load_pem_x509_certificate(ca.issue_cert("dnp.example").cert_chain_pems[0].bytes())
    info = describe_certificate(issued)
    assert not info.self_signed
    assert info.issuer != info.subject


# -- the Moa entry --------------------------------------------------------------------------------


def test_moa_entry_has_the_matf_shape(generated, cert):
    entry = build_moa_entry(ENTITY_ID, ORGANIZATION_ID, generated.cert_pem)
    assert entry == {
        "entity_id": ENTITY_ID,
        "organization": ORGANIZATION,
        "organization_id": ORGANIZATION_ID,
        "issuers": [{"x509certificate": generated.cert_pem.decode()}],
        "clients": [
            {
                "description": "DNP webhook notifier",
                "pins": [{"alg": "sha256", "digest": independent_spki_pin(cert)}],
                "tags": ["gnapv1"],
            }
        ],
    }
    assert x509.load_pem_x509_certificate(entry["issuers"][0]["x509certificate"].encode()) == cert
    pasted = json.dumps(entry, indent=2, ensure_ascii=False)
    assert "Öckerö" in pasted and json.loads(pasted) == entry


def test_moa_entry_never_contains_the_private_key(generated):
    entry = build_moa_entry(ENTITY_ID, ORGANIZATION_ID, generated.key_pem + generated.cert_pem)
    assert "PRIVATE KEY" not in json.dumps(entry)
    assert entry["issuers"][0]["x509certificate"] == generated.cert_pem.decode()


def test_moa_entry_options(generated):
    entry = build_moa_entry(
        ENTITY_ID,
        ORGANIZATION_ID,
        generated.cert_pem.decode(),
        organization="Öckerö kommun",
        description="notifier",
        tags=("gnapv1", "ss12000"),
    )
    assert entry["organization"] == "Öckerö kommun"
    assert entry["clients"][0]["description"] == "notifier"
    assert entry["clients"][0]["tags"] == ["gnapv1", "ss12000"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"entity_id": ""}, "entity_id"),
        ({"organization_id": "SE-2120001234"}, "organization_id"),
        ({"organization_id": "212000-1234"}, "organization_id"),
        ({"tags": ("GNAPv1",)}, "tags"),
        ({"tags": ("gnap-v1",)}, "tags"),
    ],
)
def test_moa_entry_refuses_bad_values(generated, arguments, message):
    settings = {"entity_id": ENTITY_ID, "organization_id": ORGANIZATION_ID, "cert_pem": generated.cert_pem}
    with pytest.raises(ValueError, match=message):
        build_moa_entry(**(settings | arguments))


def test_moa_entry_refuses_a_ca_issued_certificate():
    ca = shared_ca()
    leaf = ca.issue_cert("dnp.example", organization_name="Kommun").cert_chain_pems[0].bytes()
    with pytest.raises(ValueError, match="not self-signed"):
        build_moa_entry(ENTITY_ID, ORGANIZATION_ID, leaf)


def test_moa_entry_needs_an_organisation_name():
    key = ec.generate_private_key(ec.SECP256R1())
    bare = self_signed(key, "no organisation").public_bytes(serialization.Encoding.PEM)
    with pytest.raises(ValueError, match="organization is required"):
        build_moa_entry(ENTITY_ID, ORGANIZATION_ID, bare)
    assert (
        build_moa_entry(ENTITY_ID, ORGANIZATION_ID, bare, organization="Kommun")["organization"] == "Kommun"
    )


# -- what Moa and the auth server accept ----------------------------------------------------------


def _problem(cert_pem: bytes, key_pem: bytes) -> str | None:
    return pair_problem(load_certificate(cert_pem), serialization.load_pem_private_key(key_pem, None))


def test_usable_pairs_have_no_problem(generated):
    assert _problem(generated.cert_pem, generated.key_pem) is None
    assert _problem(*self_signed_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))) is None
    assert _problem(*self_signed_pem(ec.generate_private_key(ec.SECP384R1()))) is None


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (
            lambda: self_signed_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),  # noqa: S505
            "1024 bitar",
        ),
        (lambda: self_signed_pem(ed25519.Ed25519PrivateKey.generate()), "Ed25519 stöds inte"),
        (lambda: self_signed_pem(ed448.Ed448PrivateKey.generate()), "Ed448 stöds inte"),
        (lambda: self_signed_pem(ec.generate_private_key(ec.SECP521R1())), "secp521r1 stöds inte"),
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
def test_unusable_pairs_are_refused_with_the_reason(make, words):
    assert words in (_problem(*make()) or "")


def test_a_key_of_another_certificate_is_refused(generated):
    other = generate_client_certificate(organization="B", organization_id=ORGANIZATION_ID, common_name="b")
    assert _problem(generated.cert_pem, other.key_pem) == "Nyckeln hör inte till certifikatet."


def test_moa_entry_during_a_switch_holds_both_certificates(generated):
    new = generate_client_certificate(organization="Ny", organization_id=ORGANIZATION_ID, common_name="ny")
    entry = build_moa_entry(ENTITY_ID, ORGANIZATION_ID, generated.cert_pem, also=(new.cert_pem,))
    pins = [pin["digest"] for pin in entry["clients"][0]["pins"]]
    assert pins == [spki_pin(load_certificate(generated.cert_pem)), spki_pin(load_certificate(new.cert_pem))]
    assert len(entry["issuers"]) == 2
    assert entry["organization"] == ORGANIZATION
