"""IdP metadata for SAML sign-in: loaded from a file or URL, signature checked, parsed and cached."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path

import httpx
import xmlsec
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.xmlparser import fromstring

from dnp.types import utcnow

log = logging.getLogger(__name__)

NS = {
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "shibmd": "urn:mace:shibboleth:metadata:1.0",
}
MAX_BYTES = 64 * 1024 * 1024
# Only transforms that keep the whole root in the digest: no XPath/XSLT that could leave parts unsigned.
ALLOWED_TRANSFORMS = {
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
}


class MetadataError(Exception):
    """The IdP metadata cannot be used; the message is for the server log."""


@dataclass(frozen=True)
class IdpInfo:
    """What we need to know about the one IdP we trust."""

    entity_id: str
    sso_url: str
    slo_url: str | None
    slo_response_url: str | None
    certs: tuple[str, ...]
    scopes: frozenset[str]
    valid_until: datetime | None

    def expired(self, now: datetime) -> bool:
        """True once the metadata's validUntil has passed."""
        return self.valid_until is not None and self.valid_until <= now


_cache: dict[tuple, tuple[IdpInfo, float]] = {}
_lock = threading.Lock()


def load_idp(source: str, entity_id: str | None, federation_cert: str | None, ttl: int) -> IdpInfo:
    """The configured IdP, from cache while younger than ``ttl`` seconds and still valid."""
    key = (source, entity_id, federation_cert)
    now = utcnow()
    with _lock:
        cached = _cache.get(key)
        if cached and time.monotonic() - cached[1] < ttl and not cached[0].expired(now):
            return cached[0]
        try:
            info = read_idp(source, entity_id, federation_cert, now)
        except MetadataError as error:
            if cached and not cached[0].expired(now):
                # A federation outage must not stop sign-in while the last good copy is valid;
                # try again in a minute rather than on every request.
                log.warning("SAML metadata refresh failed, keeping the cached copy: %s", error)
                _cache[key] = (cached[0], time.monotonic() - ttl + 60)
                return cached[0]
            raise
        _cache[key] = (info, time.monotonic())
        return info


def clear_cache() -> None:
    """Forget every cached IdP (tests, or after changing the configuration)."""
    with _lock:
        _cache.clear()


def read_idp(source: str, entity_id: str | None, federation_cert: str | None, now: datetime) -> IdpInfo:
    """Read, verify and parse the metadata now, without the cache."""
    remote = source.startswith(("https://", "http://"))
    if remote and not federation_cert:
        raise MetadataError("metadata from a URL needs SAML_FEDERATION_CERT to verify its signature")
    raw = _fetch(source) if remote else _read_file(source)
    try:
        root = fromstring(raw, forbid_dtd=True)
    except Exception as error:  # lxml, DTD and entity errors all mean the same here
        raise MetadataError(f"metadata is not well-formed XML: {error}") from error
    if federation_cert:
        verify_root_signature(root, _read_file(federation_cert))
        if root.get("validUntil") is None:
            raise MetadataError("signed metadata has no validUntil")
    return parse_idp(root, entity_id, now)


def verify_root_signature(root, cert_pem: bytes) -> None:
    """Check that one signature by ``cert_pem`` covers the whole root element (no wrapping)."""
    signatures = root.findall("ds:Signature", NS)
    if len(signatures) != 1:
        raise MetadataError("metadata must carry exactly one signature on its root element")
    signature = signatures[0]
    references = signature.findall("ds:SignedInfo/ds:Reference", NS)
    if len(references) != 1:
        raise MetadataError("the metadata signature must have exactly one reference")
    uri = references[0].get("URI")
    root_id = root.get("ID")
    # validate_metadata_sign() accepts a signed aggregate nested under a new root; we do not.
    if uri != "" and not (root_id and uri == "#" + root_id and _count_ids(root, root_id) == 1):
        raise MetadataError("the metadata signature does not cover the root element")
    transforms = {t.get("Algorithm") for t in references[0].findall("ds:Transforms/ds:Transform", NS)}
    if not transforms <= ALLOWED_TRANSFORMS:
        raise MetadataError(f"unexpected transforms in the metadata signature: {sorted(transforms)}")
    methods = [
        signature.find("ds:SignedInfo/ds:SignatureMethod", NS),
        references[0].find("ds:DigestMethod", NS),
    ]
    for method in methods:
        if method is None or method.get("Algorithm") in C.DEPRECATED_ALGORITHMS:
            raise MetadataError("the metadata signature uses a missing or deprecated algorithm")
    xmlsec.tree.add_ids(root, ["ID"])
    context = xmlsec.SignatureContext()
    try:
        context.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        context.verify(signature)
    except xmlsec.Error as error:
        raise MetadataError(f"the metadata signature does not verify: {error}") from error


def parse_idp(root, entity_id: str | None, now: datetime) -> IdpInfo:
    """Pick our IdP out of the (verified) metadata and extract endpoints, certificates and scopes."""
    if _expired(root, now):
        raise MetadataError("the metadata has expired (validUntil)")
    query = "descendant-or-self::md:EntityDescriptor[md:IDPSSODescriptor]"
    if entity_id:
        # An XPath variable, never string interpolation: entity ids are not trusted as syntax.
        candidates = root.xpath(query + "[@entityID=$eid]", namespaces=NS, eid=entity_id)
    else:
        candidates = root.xpath(query, namespaces=NS)
    if len(candidates) != 1:
        wanted = entity_id or "(SAML_IDP_ENTITY_ID not set)"
        raise MetadataError(f"expected one IdP {wanted} in the metadata, found {len(candidates)}")
    entity = candidates[0]
    if _expired(entity, now):
        raise MetadataError("the IdP's entity has expired (validUntil)")
    descriptors = [
        d
        for d in entity.findall("md:IDPSSODescriptor", NS)
        if C.NS_SAMLP in d.get("protocolSupportEnumeration", "")
    ]
    if not descriptors:
        raise MetadataError("the IdP has no SAML 2.0 IDPSSODescriptor")
    idp = descriptors[0]
    sso = _endpoint(idp, "SingleSignOnService")
    if sso is None:
        raise MetadataError("the IdP has no HTTP-Redirect SingleSignOnService")
    slo = _endpoint(idp, "SingleLogoutService")
    certs = tuple(
        re.sub(r"\s+", "", text)
        for text in idp.xpath(
            "md:KeyDescriptor[not(@use) or @use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()",
            namespaces=NS,
        )
    )
    if not certs:
        raise MetadataError("the IdP publishes no signing certificate")
    scopes = frozenset(
        text.strip().lower()
        for text in entity.xpath(
            "md:Extensions/shibmd:Scope[not(@regexp='true' or @regexp='1')]/text()"
            " | md:IDPSSODescriptor/md:Extensions/shibmd:Scope[not(@regexp='true' or @regexp='1')]/text()",
            namespaces=NS,
        )
        if text.strip()
    )
    if not scopes:
        log.warning(
            "SAML IdP %s declares no shibmd:Scope: nobody can sign in through it", entity.get("entityID")
        )
    return IdpInfo(
        entity_id=entity.get("entityID"),
        sso_url=sso.get("Location"),
        slo_url=slo.get("Location") if slo is not None else None,
        slo_response_url=(slo.get("ResponseLocation") or slo.get("Location")) if slo is not None else None,
        certs=certs,
        scopes=scopes,
        valid_until=min(filter(None, (_valid_until(root), _valid_until(entity))), default=None),
    )


def _endpoint(descriptor, name: str):
    for element in descriptor.findall(f"md:{name}", NS):
        if element.get("Binding") == C.BINDING_HTTP_REDIRECT and element.get("Location"):
            return element
    return None


def _count_ids(root, value: str) -> int:
    return len(root.xpath("//*[@ID=$value]", value=value))


def _valid_until(element) -> datetime | None:
    value = element.get("validUntil")
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise MetadataError(f"unreadable validUntil {value!r}") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _expired(element, now: datetime) -> bool:
    until = _valid_until(element)
    return until is not None and until <= now


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise MetadataError(f"cannot read {path}: {error.strerror}") from error


def _fetch(url: str) -> bytes:
    try:
        with httpx.stream("GET", url, timeout=15, follow_redirects=True) as response:
            response.raise_for_status()
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise MetadataError(f"metadata at {url} is larger than {MAX_BYTES} bytes")
            return bytes(body)
    except httpx.HTTPError as error:
        raise MetadataError(f"cannot fetch {url}: {error}") from error
