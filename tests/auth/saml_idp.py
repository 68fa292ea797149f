"""A throwaway IdP and federation for SAML tests: keys, metadata and signed Responses, made at run time."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import uuid
from urllib.parse import quote_plus

import xmlsec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from tests.helpers import self_signed_pem

BASE_URL = "https://dnp.example.test"
SP_ENTITY = BASE_URL + "/saml/metadata"
ACS = BASE_URL + "/saml/acs"
SLS = BASE_URL + "/saml/sls"
IDP_ENTITY = "https://idp.skola.example.se/idp"
SSO_URL = "https://idp.skola.example.se/sso"
SLO_URL = "https://idp.skola.example.se/slo"
SCOPE = "skola.example.se"
EPPN_OID = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
NS = {"saml": C.NS_SAML, "samlp": C.NS_SAMLP, "md": C.NS_MD, "ds": C.NS_DS}


@functools.cache
def keypair(name: str) -> tuple[str, str]:
    """A self-signed RSA key and certificate (PEM), one per name for the whole run."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert_pem, key_pem = self_signed_pem(key, name, days=366)
    return key_pem.decode(), cert_pem.decode()


def cert_body(cert_pem: str) -> str:
    """The base64 body of a PEM certificate, as metadata carries it."""
    return "".join(line for line in cert_pem.splitlines() if "-----" not in line)


def ts(seconds: int = 0) -> str:
    """A SAML timestamp ``seconds`` from now."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def entity_xml(entity_id=IDP_ENTITY, certs=None, scopes=(SCOPE,), slo=True, valid_until=None) -> str:
    """An IdP EntityDescriptor with a signing key, scopes, SSO and (optionally) SLO endpoints."""
    certs = certs or (keypair("idp")[1],)
    scope_xml = "".join(f'<shibmd:Scope regexp="false">{s}</shibmd:Scope>' for s in scopes)
    slo_xml = (
        f'<md:SingleLogoutService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{SLO_URL}"/>' if slo else ""
    )
    until = f' validUntil="{valid_until}"' if valid_until else ""
    keys = "".join(
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_body(cert)}'
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for cert in certs
    )
    return (
        f'<md:EntityDescriptor xmlns:md="{C.NS_MD}" xmlns:ds="{C.NS_DS}"'
        f' xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" entityID="{entity_id}"{until}>'
        f'<md:IDPSSODescriptor protocolSupportEnumeration="{C.NS_SAMLP}">'
        f"<md:Extensions>{scope_xml}</md:Extensions>{keys}{slo_xml}"
        f'<md:SingleSignOnService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{SSO_URL}"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def aggregate_xml(*entities: str, valid_until: str | None = "2099-01-01T00:00:00Z") -> str:
    """A federation aggregate (EntitiesDescriptor) around ``entities``."""
    until = f' validUntil="{valid_until}"' if valid_until else ""
    return f'<md:EntitiesDescriptor xmlns:md="{C.NS_MD}" Name="https://fed.example.test"{until}>{"".join(entities)}</md:EntitiesDescriptor>'


def sign_xml(
    xml: str, name: str = "federation", algorithm: str = C.RSA_SHA256, digest: str = C.SHA256
) -> str:
    """Sign the root (or the parent of the first saml:Issuer) with the named throwaway key."""
    key, cert = keypair(name)
    signed = OneLogin_Saml2_Utils.add_sign(xml, key, cert, sign_algorithm=algorithm, digest_algorithm=digest)
    return signed.decode() if isinstance(signed, bytes) else signed


def assertion_xml(
    in_response_to: str | None,
    eppn_values=("anna.andersson@" + SCOPE,),
    eppn_name=EPPN_OID,
    extra_attributes: dict | None = None,
    issuer=IDP_ENTITY,
    audience=SP_ENTITY,
    recipient=ACS,
    not_before=-30,
    not_on_or_after=300,
) -> str:
    """An unsigned Assertion for the SP, bound to ``in_response_to`` (None: IdP-initiated)."""
    irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
    attributes = (
        {eppn_name: eppn_values, **(extra_attributes or {})} if eppn_name else dict(extra_attributes or {})
    )
    attribute_xml = "".join(
        f'<saml:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">'
        + "".join(f'<saml:AttributeValue xsi:type="xs:string">{v}</saml:AttributeValue>' for v in values)
        + "</saml:Attribute>"
        for name, values in attributes.items()
    )
    if not attribute_xml:
        attribute_xml = (
            '<saml:Attribute Name="urn:oid:2.5.4.42">'
            "<saml:AttributeValue>Anna</saml:AttributeValue></saml:Attribute>"
        )
    return (
        f'<saml:Assertion xmlns:saml="{C.NS_SAML}" xmlns:xs="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' ID="_a{uuid.uuid4().hex}" Version="2.0" IssueInstant="{ts()}">'
        f"<saml:Issuer>{issuer}</saml:Issuer>"
        f'<saml:Subject><saml:NameID Format="{C.NAMEID_TRANSIENT}">_t{uuid.uuid4().hex}</saml:NameID>'
        f'<saml:SubjectConfirmation Method="{C.CM_BEARER}">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{ts(not_on_or_after)}" Recipient="{recipient}"{irt}/>'
        "</saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{ts(not_before)}" NotOnOrAfter="{ts(not_on_or_after)}">'
        f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
        "</saml:Conditions>"
        f'<saml:AuthnStatement AuthnInstant="{ts()}" SessionIndex="_s{uuid.uuid4().hex}"><saml:AuthnContext>'
        "<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
        f"<saml:AttributeStatement>{attribute_xml}</saml:AttributeStatement>"
        "</saml:Assertion>"
    )


def response_xml(assertion: str, in_response_to: str | None, issuer=IDP_ENTITY, destination=ACS) -> str:
    """A Response around an (already signed or encrypted) assertion."""
    irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
    return (
        f'<samlp:Response xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" ID="_r{uuid.uuid4().hex}"'
        f' Version="2.0" IssueInstant="{ts()}" Destination="{destination}"{irt}>'
        f"<saml:Issuer>{issuer}</saml:Issuer>"
        f'<samlp:Status><samlp:StatusCode Value="{C.STATUS_SUCCESS}"/></samlp:Status>'
        f"{assertion}</samlp:Response>"
    )


def make_response(
    in_response_to: str | None, signer: str | None = "idp", algorithm=C.RSA_SHA256, **kw
) -> str:
    """The usual IdP answer: an assertion signed by ``signer`` (None: unsigned) in an unsigned Response."""
    assertion = assertion_xml(in_response_to, **kw)
    if signer:
        digest = C.SHA1 if algorithm == C.RSA_SHA1 else C.SHA256
        assertion = sign_xml(assertion, signer, algorithm, digest)
    return response_xml(assertion, in_response_to, issuer=kw.get("issuer", IDP_ENTITY))


def encrypt_assertion(signed_assertion: str, cert_pem: str) -> str:
    """Wrap a signed assertion in saml:EncryptedAssertion for ``cert_pem`` (AES-256-CBC, RSA-OAEP)."""
    template = etree.fromstring(f'<saml:EncryptedAssertion xmlns:saml="{C.NS_SAML}"/>')
    data = xmlsec.template.encrypted_data_create(
        template, xmlsec.constants.TransformAes256Cbc, type=xmlsec.constants.TypeEncElement, ns="xenc"
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(data)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(data, ns="ds")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, xmlsec.constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(cert_pem.encode(), xmlsec.constants.KeyDataFormatCertPem))
    context = xmlsec.EncryptionContext(manager)
    context.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, 256, xmlsec.constants.KeyDataTypeSession)
    encrypted = context.encrypt_xml(data, etree.fromstring(signed_assertion.encode()))
    template.append(encrypted)
    return etree.tostring(template).decode()


def b64(xml: str) -> str:
    """Base64 as the HTTP-POST binding sends it."""
    return base64.b64encode(xml.encode()).decode()


def logout_request_xml(issuer=IDP_ENTITY, destination=SLS) -> str:
    """An IdP-initiated LogoutRequest for the SP."""
    return (
        f'<samlp:LogoutRequest xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" ID="_l{uuid.uuid4().hex}"'
        f' Version="2.0" IssueInstant="{ts()}" Destination="{destination}" NotOnOrAfter="{ts(300)}">'
        f'<saml:Issuer>{issuer}</saml:Issuer><saml:NameID Format="{C.NAMEID_TRANSIENT}">_t1</saml:NameID>'
        "<samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>"
    )


def logout_response_xml(in_response_to="_sp_logout_request", issuer=IDP_ENTITY, destination=SLS) -> str:
    """A LogoutResponse from the IdP."""
    return (
        f'<samlp:LogoutResponse xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" ID="_l{uuid.uuid4().hex}"'
        f' Version="2.0" IssueInstant="{ts()}" Destination="{destination}" InResponseTo="{in_response_to}">'
        f'<saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{C.STATUS_SUCCESS}"/>'
        "</samlp:Status></samlp:LogoutResponse>"
    )


def redirect_query(
    kind: str, xml: str, signer: str | None = "idp", algorithm=C.RSA_SHA256, relay_state=None
) -> str:
    """The HTTP-Redirect binding's query string, signed over SAMLxxx, RelayState and SigAlg as sent."""
    parts = [f"{kind}={quote_plus(OneLogin_Saml2_Utils.deflate_and_base64_encode(xml))}"]
    if relay_state:
        parts.append(f"RelayState={quote_plus(relay_state)}")
    if signer:
        parts.append(f"SigAlg={quote_plus(algorithm)}")
        key = serialization.load_pem_private_key(keypair(signer)[0].encode(), None)
        digest = hashes.SHA1() if algorithm == C.RSA_SHA1 else hashes.SHA256()  # noqa: S303 (the test of refusing it)
        signature = key.sign("&".join(parts).encode(), padding.PKCS1v15(), digest)
        parts.append(f"Signature={quote_plus(base64.b64encode(signature).decode())}")
    return "&".join(parts)
