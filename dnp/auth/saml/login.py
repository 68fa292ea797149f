"""SAML sign-in: AuthnRequests kept server-side, and the checks python3-saml leaves to us."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xmlparser import fromstring
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from dnp.auth.models import SamlRequest
from dnp.auth.models import UsedAssertion
from dnp.auth.saml.metadata import IdpInfo
from dnp.auth.saml.sp import EPPN
from dnp.auth.saml.sp import SamlError
from dnp.auth.saml.sp import SpConfig
from dnp.auth.saml.sp import request_data
from dnp.auth.saml.sp import settings
from dnp.types import utcnow

REQUEST_TTL = timedelta(minutes=10)
# Kept past the assertion's own NotOnOrAfter by more than the toolkit's 300 s clock drift.
USED_ASSERTION_MARGIN = timedelta(minutes=10)
USED_ASSERTION_MAX = timedelta(days=30)
EPPN_NAMES = (EPPN, "eduPersonPrincipalName")
DISPLAY_NAMES = ("urn:oid:2.16.840.1.113730.3.1.241", "displayName")
GIVEN_NAMES = ("urn:oid:2.5.4.42", "givenName")
SURNAMES = ("urn:oid:2.5.4.4", "sn")
NS = {"saml": C.NS_SAML, "samlp": C.NS_SAMLP}


@dataclass(frozen=True)
class SamlLogin:
    """A person the IdP vouched for, and where they were going."""

    eppn: str
    display_name: str
    next_path: str


def begin_login(sp: SpConfig, idp: IdpInfo, next_path: str, *, session: Session) -> str:
    """Record a new AuthnRequest under a one-time RelayState token; return the IdP redirect URL."""
    token = secrets.token_urlsafe(32)
    auth = OneLogin_Saml2_Auth(request_data(sp, "/saml/login"), old_settings=settings(sp, idp))
    url = auth.login(return_to=token, set_nameid_policy=False)
    session.add(
        SamlRequest(token_hash=_hash(token), request_id=auth.get_last_request_id(), next_path=next_path)
    )
    return url


def claim_request(token: str, now: datetime | None = None, *, session: Session) -> SamlRequest:
    """Use up the AuthnRequest behind a RelayState token: unknown, used or old tokens are refused."""
    now = now or utcnow()
    if not token:
        raise SamlError("stale", "no RelayState: unsolicited response")
    token_hash = _hash(token)
    # One UPDATE decides the race between two posts of the same token.
    claimed = session.connection().execute(
        update(SamlRequest)
        .where(
            SamlRequest.token_hash == token_hash,
            SamlRequest.consumed.is_(None),
            SamlRequest.created > now - REQUEST_TTL,
        )
        .values(consumed=now)
    )
    if claimed.rowcount != 1:
        raise SamlError("stale", "unknown, used or expired RelayState token")
    return session.get(SamlRequest, token_hash)


def complete_login(
    sp: SpConfig, idp: IdpInfo, pending: SamlRequest, saml_response: str, *, session: Session
) -> SamlLogin:
    """Validate the Response to ``pending`` and remember its assertion; raise SamlError if refused."""
    data = request_data(sp, "/saml/acs", post={"SAMLResponse": saml_response})
    auth = OneLogin_Saml2_Auth(data, old_settings=settings(sp, idp))
    try:
        auth.process_response(request_id=pending.request_id)
    except Exception as error:  # undecodable input makes the toolkit raise instead of report
        raise SamlError("invalid", f"unreadable response: {type(error).__name__}") from error
    if auth.get_errors() or not auth.is_authenticated():
        raise SamlError("invalid", f"response rejected: {auth.get_last_error_reason()}")
    # The toolkit skips the InResponseTo check when the Response has none (unsolicited).
    if auth.get_last_response_in_response_to() != pending.request_id:
        raise SamlError("invalid", "Response/@InResponseTo missing or not our request")
    assertion = _bound_assertion(auth, pending.request_id, sp.acs_url)
    attributes = auth.get_attributes()
    eppn = _eppn(attributes, idp.scopes)
    _remember_assertion(auth.get_last_assertion_id(), _acceptable_until(assertion), session=session)
    return SamlLogin(eppn, _display_name(attributes), pending.next_path)


def purge_expired(now: datetime | None = None, max_open: int | None = None, *, session: Session) -> None:
    """Forget AuthnRequests and used assertions that can no longer matter.

    Every anonymous GET of /saml/login stores a request, so with ``max_open`` the table is also
    capped: the oldest open requests go until there is room for one more. Under a flood an honest
    sign-in started before it may have to be started again; the table never grows without bound.
    """
    now = now or utcnow()
    connection = session.connection()
    spent = or_(SamlRequest.created < now - REQUEST_TTL, SamlRequest.consumed.is_not(None))
    connection.execute(delete(SamlRequest).where(spent))
    connection.execute(delete(UsedAssertion).where(UsedAssertion.expires < now))
    if max_open is not None:
        beyond = (
            select(SamlRequest.token_hash)
            .order_by(SamlRequest.created.desc(), SamlRequest.token_hash)
            .offset(max(max_open - 1, 0))
        )
        connection.execute(delete(SamlRequest).where(SamlRequest.token_hash.in_(beyond)))


def _bound_assertion(auth: OneLogin_Saml2_Auth, request_id: str, acs_url: str):
    # Response/@InResponseTo is outside the signature when only the assertion is signed: a signed
    # IdP-initiated assertion could be wrapped in a Response naming an attacker's request. The
    # binding that counts is the one inside the signed assertion.
    root = fromstring(auth.get_last_response_xml().encode())
    assertions = root.xpath("//saml:Assertion", namespaces=NS)
    if len(assertions) != 1 or assertions[0].getparent() is not root:
        raise SamlError("invalid", "expected exactly one assertion directly in the Response")
    assertion = assertions[0]
    if assertion.get("ID") != auth.get_last_assertion_id():
        raise SamlError("invalid", "the checked assertion is not the validated one")
    confirmations = assertion.xpath(
        "saml:Subject/saml:SubjectConfirmation[@Method=$bearer]/saml:SubjectConfirmationData",
        namespaces=NS,
        bearer=C.CM_BEARER,
    )
    if not confirmations:
        raise SamlError("invalid", "no bearer SubjectConfirmationData in the assertion")
    for data in confirmations:
        if data.get("InResponseTo") != request_id:
            raise SamlError("invalid", "assertion's SubjectConfirmationData/@InResponseTo is not our request")
        if data.get("Recipient") != acs_url:
            raise SamlError("invalid", "assertion's SubjectConfirmationData/@Recipient is not our ACS")
    return assertion


def _acceptable_until(assertion) -> datetime:
    # The toolkit accepts an assertion until the latest NotOnOrAfter (+300 s drift on Conditions);
    # its id must be remembered at least that long.
    limits = assertion.xpath(
        "saml:Conditions/@NotOnOrAfter"
        " | saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData/@NotOnOrAfter",
        namespaces=NS,
    )
    if not limits:
        return utcnow() + USED_ASSERTION_MAX
    latest = max(
        datetime.fromtimestamp(OneLogin_Saml2_Utils.parse_SAML_to_time(value), UTC) for value in limits
    )
    return max(latest + USED_ASSERTION_MARGIN, utcnow() + USED_ASSERTION_MARGIN)


def _eppn(attributes: dict, scopes: frozenset[str]) -> str:
    values = {
        value.strip() for name in EPPN_NAMES for value in attributes.get(name, []) if value and value.strip()
    }
    if not values:
        raise SamlError("identity", "no eduPersonPrincipalName in the assertion")
    if len(values) > 1:
        raise SamlError("identity", f"{len(values)} different eduPersonPrincipalName values")
    eppn = values.pop()
    local, _, scope = eppn.rpartition("@")
    if not local or not scope or "@" in local or len(eppn) > 255 or any(c.isspace() for c in eppn):
        raise SamlError("identity", "malformed eduPersonPrincipalName")
    # The federation says which domains an IdP may vouch for; without this IdP A could sign in B's users.
    if scope.lower() not in scopes:
        raise SamlError("identity", f"EPPN scope {scope.lower()!r} is not one the IdP declares")
    return eppn


def _display_name(attributes: dict) -> str:
    def first(names: tuple[str, ...]) -> str:
        for name in names:
            for value in attributes.get(name, []):
                if value and value.strip():
                    return value.strip()
        return ""

    name = first(DISPLAY_NAMES) or " ".join(part for part in (first(GIVEN_NAMES), first(SURNAMES)) if part)
    return name[:200]


def _remember_assertion(assertion_id: str | None, until: datetime, *, session: Session) -> None:
    if not assertion_id or len(assertion_id) > 255:
        raise SamlError("invalid", "assertion ID missing or too long")
    if session.get(UsedAssertion, assertion_id) is not None:
        raise SamlError("invalid", "assertion already used: replay")
    session.add(UsedAssertion(assertion_id=assertion_id, expires=until))
    try:
        session.flush()  # the primary key catches a concurrent replay; committed with the sign-in
    except IntegrityError as error:
        raise SamlError("invalid", "assertion already used: concurrent replay") from error


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
