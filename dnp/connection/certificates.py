"""Our client certificate for Moa: generate, describe, pin, and the Moa metadata entry to register it."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

# Moa technical profile: organisation numbers look like SE + 10 digits, tags like gnapv1.
ORGANIZATION_ID = re.compile(r"[A-Z]{2}[0-9]{10}")
TAG = re.compile(r"[a-z0-9]{1,64}")
DEFAULT_DAYS = 730
# What Moa and Sunet's auth server take for a TLS client key (see research/auth.md).
MIN_RSA_BITS = 2048
EC_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
# cryptography prints unknown attribute types as dotted OIDs; operators read names.
NAME_LABELS = {NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier"}


@dataclass(frozen=True)
class GeneratedCertificate:
    """A new private key and its self-signed certificate, both PEM."""

    key_pem: bytes
    cert_pem: bytes

    def write(self, cert_path: str | os.PathLike, key_path: str | os.PathLike) -> None:
        """Write both files; the key only readable by its owner and never over an existing file."""
        # O_EXCL: overwriting a key in use would silently break the Moa registration.
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as key_file:
            key_file.write(self.key_pem)
        Path(cert_path).write_bytes(self.cert_pem)


@dataclass(frozen=True)
class CertificateInfo:
    """What an operator needs to know about a certificate."""

    subject: str
    issuer: str
    serial_number: str
    sha256_fingerprint: str
    spki_pin: str
    cert_s256: str
    not_before: dt.datetime
    not_after: dt.datetime
    days_left: int
    self_signed: bool
    key_type: str


def generate_client_certificate(
    *,
    organization: str,
    organization_id: str,
    common_name: str,
    key_type: str = "ec",
    days: int = DEFAULT_DAYS,
    now: dt.datetime | None = None,
) -> GeneratedCertificate:
    """Make an EC P-256 (or RSA 3072) key and a self-signed client certificate for Moa.

    The subject is C=SE, O=organization, organizationIdentifier=organization_id, OU=issue time,
    CN=common_name. The issue time keeps the subject unique per certificate, which Moa requires of
    every new issuer certificate, so a rotated certificate never collides with its predecessor.
    """
    _check_organization_id(organization_id)
    if key_type == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    elif key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise ValueError(f"key_type must be 'ec' or 'rsa', not {key_type!r}")
    now = now or dt.datetime.now(dt.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, organization_id),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"DNP {now:%Y-%m-%dT%H%M%SZ}"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # A little back-dating so a peer with a slow clock does not see a not-yet-valid certificate.
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return GeneratedCertificate(key_pem=key_pem, cert_pem=cert.public_bytes(serialization.Encoding.PEM))


def load_certificate(source: bytes | str | os.PathLike) -> x509.Certificate:
    """The first certificate in PEM bytes, a PEM string, or a PEM file path."""
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "-----BEGIN" not in source):
        data = Path(source).read_bytes()
    else:
        data = source.encode() if isinstance(source, str) else source
    certs = x509.load_pem_x509_certificates(data)
    return certs[0]


def pair_problem(cert: x509.Certificate, key: PrivateKeyTypes, now: dt.datetime | None = None) -> str | None:
    """Why Moa or the auth server would refuse this certificate and key (Swedish), or None.

    The key must belong to the certificate and be RSA of at least 2048 bits or EC P-256/P-384,
    and the certificate must be valid now.
    """
    now = now or dt.datetime.now(dt.UTC)
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size < MIN_RSA_BITS:
            return (
                f"RSA-nyckeln är bara {public.key_size} bitar; Moa och autentiseringsservern kräver "
                f"minst {MIN_RSA_BITS}."
            )
    elif isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.name not in EC_CURVES:
            return f"Kurvan {public.curve.name} stöds inte; använd EC P-256 eller P-384 (eller RSA)."
    else:
        kind = type(public).__name__.removeprefix("_").replace("PublicKey", "")
        return (
            f"Nyckeltypen {kind} stöds inte av Moa och autentiseringsservern; använd RSA (minst "
            f"{MIN_RSA_BITS} bitar) eller EC P-256/P-384."
        )
    info = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, info) != public.public_bytes(
        serialization.Encoding.DER, info
    ):
        return "Nyckeln hör inte till certifikatet."
    if cert.not_valid_after_utc <= now:
        return f"Certifikatet gick ut {cert.not_valid_after_utc:%Y-%m-%d}; skapa eller beställ ett nytt."
    if cert.not_valid_before_utc > now:
        return (
            f"Certifikatet gäller först från {cert.not_valid_before_utc:%Y-%m-%d %H:%M} (UTC); "
            "ladda upp det när det har börjat gälla."
        )
    return None


def spki_pin(cert: x509.Certificate) -> str:
    """RFC 7469 pin: base64 SHA-256 of the SubjectPublicKeyInfo, as Moa's ``pins`` want it."""
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return base64.b64encode(digest.finalize()).decode("ascii")


def cert_s256(cert: x509.Certificate) -> str:
    """RFC 8705 ``cert#S256``: base64url (no padding) SHA-256 of the whole DER certificate."""
    return base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).decode("ascii").rstrip("=")


def describe_certificate(cert: x509.Certificate, now: dt.datetime | None = None) -> CertificateInfo:
    """Subject, issuer, fingerprints, validity and days left of a certificate."""
    now = now or dt.datetime.now(dt.UTC)
    public_key = cert.public_key()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        key_type = f"EC {public_key.curve.name}"
    elif isinstance(public_key, rsa.RSAPublicKey):
        key_type = f"RSA {public_key.key_size}"
    else:
        key_type = type(public_key).__name__
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(NAME_LABELS),
        issuer=cert.issuer.rfc4514_string(NAME_LABELS),
        serial_number=f"{cert.serial_number:x}",
        sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        spki_pin=spki_pin(cert),
        cert_s256=cert_s256(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        days_left=(cert.not_valid_after_utc - now).days,
        self_signed=_is_self_signed(cert),
        key_type=key_type,
    )


def build_moa_entry(
    entity_id: str,
    organization_id: str,
    cert_pem: bytes | str,
    *,
    organization: str | None = None,
    description: str = "DNP webhook notifier",
    tags: tuple[str, ...] = ("gnapv1",),
    also: tuple[bytes | str, ...] = (),
) -> dict:
    """The Moa (MATF) metadata entity that registers our self-signed client certificate.

    Paste ``json.dumps(entry, indent=2, ensure_ascii=False)`` into Moa's metadata upload. The
    certificate goes both into ``issuers`` (nutid matches the TLS client certificate against the
    issuer certificates) and, as an SPKI pin, into a ``clients`` entry tagged ``gnapv1``.
    ``organization`` defaults to the certificate's O attribute. ``also`` adds further self-signed
    certificates (a new one being switched to), so both work while the switch is made.
    """
    if not isinstance(entity_id, str) or not entity_id.strip():
        raise ValueError("entity_id must be our Moa entity id, e.g. https://dnp.kommun.se")
    _check_organization_id(organization_id)
    for tag in tags:
        if not TAG.fullmatch(tag):
            raise ValueError(f"Moa tags are 1-64 of a-z and 0-9, not {tag!r}")
    certs = [load_certificate(pem if isinstance(pem, bytes) else pem.encode()) for pem in (cert_pem, *also)]
    cert = certs[0]
    if not all(_is_self_signed(each) for each in certs):
        raise ValueError(
            "the certificate is not self-signed: nutid matches the client certificate itself against "
            "the entity's issuers, so register a self-signed certificate (or use a CA-issued one "
            "without Moa, through the cert#S256 proof)"
        )
    if organization is None:
        names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if not names:
            raise ValueError("organization is required when the certificate subject has no O attribute")
        organization = str(names[0].value)
    return {
        "entity_id": entity_id,
        "organization": organization,
        "organization_id": organization_id,
        # Re-serialised from the parsed certificate: a pasted PEM file that also holds the private
        # key must never end up in public metadata.
        "issuers": [
            {"x509certificate": each.public_bytes(serialization.Encoding.PEM).decode("ascii")}
            for each in certs
        ],
        "clients": [
            {
                "description": description,
                "pins": [{"alg": "sha256", "digest": spki_pin(each)} for each in certs],
                "tags": list(tags),
            }
        ],
    }


def _check_organization_id(organization_id: str) -> None:
    if not isinstance(organization_id, str) or not ORGANIZATION_ID.fullmatch(organization_id):
        raise ValueError(
            "organization_id must be a country code and 10 digits, e.g. SE2120001234, "
            f"not {organization_id!r}"
        )


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
