"""SAML service provider: configuration, python3-saml settings, our metadata and single logout."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.xmlparser import fromstring

from dnp.auth.saml import metadata as saml_metadata
from dnp.auth.saml.metadata import IdpInfo
from dnp.auth.saml.metadata import MetadataError

EPPN = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
URI_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
REQUESTED_ATTRIBUTES = [
    {"name": EPPN, "friendlyName": "eduPersonPrincipalName", "isRequired": True},
    {"name": "urn:oid:2.16.840.1.113730.3.1.241", "friendlyName": "displayName", "isRequired": False},
    {"name": "urn:oid:2.5.4.42", "friendlyName": "givenName", "isRequired": False},
    {"name": "urn:oid:2.5.4.4", "friendlyName": "sn", "isRequired": False},
]


class SamlError(Exception):
    """A refused SAML exchange: ``kind`` picks the page shown, ``reason`` goes to the server log only."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind  # config | stale | invalid | identity | logout
        self.reason = reason


@dataclass(frozen=True)
class SpConfig:
    """Our side of the federation, from ``DNP_SAML_*``."""

    base_url: str
    entity_id: str
    cert: str = ""
    key: str = ""
    contact_email: str = ""
    organization_name: str = ""
    organization_url: str = ""

    @property
    def acs_url(self) -> str:
        """Where the IdP posts its Response."""
        return self.base_url + "/saml/acs"

    @property
    def sls_url(self) -> str:
        """Where the IdP sends logout messages."""
        return self.base_url + "/saml/sls"


def sp_config(config: Mapping) -> SpConfig:
    """Our SP settings; SamlError("config") when SAML is not set up."""
    base_url = (config.get("SAML_SP_BASE_URL") or "").rstrip("/")
    if not base_url:
        raise SamlError("config", "SAML_SP_BASE_URL is not set")
    try:
        cert = _read(config.get("SAML_SP_CERT"))
        key = _read(config.get("SAML_SP_KEY"))
    except OSError as error:
        raise SamlError("config", f"cannot read the SP certificate or key: {error}") from error
    return SpConfig(
        base_url=base_url,
        entity_id=config.get("SAML_SP_ENTITY_ID") or base_url + "/saml/metadata",
        cert=cert,
        key=key,
        contact_email=config.get("SAML_CONTACT_EMAIL") or "",
        organization_name=config.get("SAML_ORGANIZATION_NAME") or "",
        organization_url=config.get("SAML_ORGANIZATION_URL") or "",
    )


def idp_info(config: Mapping) -> IdpInfo:
    """The configured IdP from (cached, verified) metadata; SamlError("config") when unusable."""
    source = config.get("SAML_IDP_METADATA")
    if not source:
        raise SamlError("config", "SAML_IDP_METADATA is not set")
    try:
        return saml_metadata.load_idp(
            source,
            config.get("SAML_IDP_ENTITY_ID") or None,
            config.get("SAML_FEDERATION_CERT") or None,
            int(config.get("SAML_METADATA_TTL") or 3600),
        )
    except MetadataError as error:
        raise SamlError("config", f"IdP metadata unusable: {error}") from error


def config_problems(config: Mapping) -> list[str]:
    """What is missing for SAML sign-in in production (checked at start-up, without the network)."""
    problems = []
    base_url = config.get("SAML_SP_BASE_URL") or ""
    if not base_url.startswith("https://"):
        problems.append("DNP_SAML_SP_BASE_URL must be the https:// address of DNP")
    for name in ("SAML_SP_CERT", "SAML_SP_KEY"):
        if not config.get(name) or not Path(config[name]).is_file():
            problems.append(f"DNP_{name} must name a readable PEM file")
    source = config.get("SAML_IDP_METADATA") or ""
    federation_cert = config.get("SAML_FEDERATION_CERT")
    if not source:
        problems.append("DNP_SAML_IDP_METADATA must name the IdP or federation metadata (file or URL)")
    elif source.startswith(("https://", "http://")) and not federation_cert:
        problems.append("DNP_SAML_FEDERATION_CERT is needed to verify metadata fetched from a URL")
    elif not source.startswith(("https://", "http://")) and not Path(source).is_file():
        problems.append("DNP_SAML_IDP_METADATA names a file that does not exist")
    if federation_cert and not Path(federation_cert).is_file():
        problems.append("DNP_SAML_FEDERATION_CERT must name a readable PEM file")
    return problems


def settings(sp: SpConfig, idp: IdpInfo | None = None) -> dict:
    """python3-saml settings: strict, signed assertions, no deprecated algorithms, IdP by certificate."""
    signing = bool(sp.cert and sp.key)
    data = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp.entity_id,
            "assertionConsumerService": {"url": sp.acs_url, "binding": C.BINDING_HTTP_POST},
            "singleLogoutService": {"url": sp.sls_url, "binding": C.BINDING_HTTP_REDIRECT},
            "NameIDFormat": C.NAMEID_TRANSIENT,
            "attributeConsumingService": {
                "serviceName": "DNP",
                "serviceDescription": "Digitala nationella prov: provgrupper till Skolverket",
                "requestedAttributes": [{**a, "nameFormat": URI_FORMAT} for a in REQUESTED_ATTRIBUTES],
            },
            "x509cert": sp.cert,
            "privateKey": sp.key,
        },
        "security": {
            "authnRequestsSigned": False,  # saml2int: SHOULD NOT; Skolverket's own gateway does not
            "logoutRequestSigned": signing,
            "logoutResponseSigned": signing,
            "wantAssertionsSigned": True,
            "wantMessagesSigned": False,  # IdPs in Skolfederation sign the assertion, not always the Response
            "wantAssertionsEncrypted": False,
            "wantNameId": False,  # the person is the EPPN attribute, not the NameID
            "wantNameIdEncrypted": False,
            "wantAttributeStatement": True,
            "requestedAuthnContext": False,  # the default would demand PasswordProtectedTransport exactly
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
            "allowRepeatAttributeName": False,
            "signMetadata": False,  # the federation signs the aggregate
        },
    }
    if sp.contact_email:
        contact = {"givenName": "DNP", "emailAddress": escape(sp.contact_email)}
        data["contactPerson"] = {"technical": contact, "support": contact}
    if sp.organization_name and sp.organization_url:
        organization = {
            "name": escape(sp.organization_name),
            "displayname": escape(sp.organization_name),
            "url": escape(sp.organization_url),
        }
        data["organization"] = {"sv": organization, "en": organization}
    if idp is not None:
        data["idp"] = {
            "entityId": idp.entity_id,
            "singleSignOnService": {"url": idp.sso_url, "binding": C.BINDING_HTTP_REDIRECT},
            "x509cert": idp.certs[0],
        }
        if len(idp.certs) > 1:  # key rollover: the IdP publishes the old and the new certificate
            data["idp"]["x509certMulti"] = {"signing": list(idp.certs)}
        if idp.slo_url:
            data["idp"]["singleLogoutService"] = {
                "url": idp.slo_url,
                "responseUrl": idp.slo_response_url,
                "binding": C.BINDING_HTTP_REDIRECT,
            }
    return data


def request_data(sp: SpConfig, path: str, get: dict | None = None, post: dict | None = None) -> dict:
    """The toolkit's view of a request, built from our configured address, not the Host header."""
    parts = urlsplit(sp.base_url)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,
        "script_name": parts.path + path,
        "get_data": get or {},
        "post_data": post or {},
    }


def sp_metadata(sp: SpConfig) -> bytes:
    """Our SP metadata as the federation registers it, checked by the toolkit."""
    data = settings(sp)
    # With an encryption key in our metadata IdPs may encrypt assertions; the toolkit decrypts them.
    data["security"]["wantAssertionsEncrypted"] = bool(sp.cert and sp.key)
    md_settings = OneLogin_Saml2_Settings(data, sp_validation_only=True)
    xml = md_settings.get_sp_metadata()
    errors = md_settings.validate_metadata(xml)
    if errors:
        raise SamlError("config", f"our SP metadata does not validate: {errors}")
    root = fromstring(xml if isinstance(xml, bytes) else xml.encode())
    # The federation decides how long the aggregate is valid; the toolkit's own two-day validUntil
    # would make IdPs drop us once the registered copy ages.
    root.attrib.pop("validUntil", None)
    root.attrib.pop("cacheDuration", None)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def process_logout(sp: SpConfig, idp: IdpInfo, query: dict, query_string: str) -> str | None:
    """Check a signed LogoutRequest or LogoutResponse; return where to send the browser (None: our page)."""
    if "SAMLRequest" not in query and "SAMLResponse" not in query:
        raise SamlError("logout", "no SAML logout message in the request")
    if not query.get("Signature"):
        raise SamlError("logout", "unsigned logout message")
    if "SAMLRequest" in query and not idp.slo_response_url:
        raise SamlError("logout", "LogoutRequest from an IdP that declares no SingleLogoutService")
    data = request_data(sp, "/saml/sls", get=query)
    # Verify the signature over the query string exactly as sent, not as re-encoded by the toolkit.
    data.update(query_string=query_string, validate_signature_from_qs=True)
    auth = OneLogin_Saml2_Auth(data, old_settings=settings(sp, idp))
    try:
        url = auth.process_slo(keep_local_session=True)
    except Exception as error:  # malformed base64/XML: the toolkit raises instead of reporting
        raise SamlError("logout", f"unreadable logout message: {type(error).__name__}") from error
    if auth.get_errors():
        raise SamlError(
            "logout", f"logout message rejected: {auth.get_errors()} {auth.get_last_error_reason()}"
        )
    return url


def _read(path: str | None) -> str:
    return Path(path).read_text() if path else ""
