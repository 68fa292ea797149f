"""SS 12000 documents for the publication, built from register rows (pure functions, no database).

Documents are built without ``meta``; their hash is taken of that text, so it only changes when the
content does (key order is fixed here). The stored text has ``meta`` appended (``with_meta``), so the
API serves it as it is, without parsing it or formatting times.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from dnp.common import codes
from dnp.register.models import Duty
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import Person
from dnp.types import stamp

# Central setting "protected_persons": how persons whose securityMarking is not "Ingen" are sent.
ALIAS = "alias"  # alias names, pseudonymous civic number, securityMarking "Ingen"
MARKED = "marked"  # alias names, real civic number, the register's securityMarking
PROTECTED_MODES = (ALIAS, MARKED)
PLACEHOLDER_NAMES = ("Skyddad", "Person")  # a protected person without alias names in the register
EMAIL_TYPES = ("Skola elev", "Skola personal")
# Duty chosen as a teacher's duty on an Activity when they hold several at the unit.
PREFERRED_ROLE = "Lärare"


def serialise(document: dict) -> str:
    """Compact JSON text, as stored and served."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


META_KEY = ',"meta":'


def with_meta(text: str, created: datetime, modified: datetime) -> str:
    """Serialised content (or a stored document) with ``meta`` as its last key."""
    if META_KEY in text:
        text = text[: text.rindex(META_KEY)] + "}"
    return f'{text[:-1]}{META_KEY}{{"created":"{stamp(created)}","modified":"{stamp(modified)}"}}}}'


def ref(entity_id: str) -> dict:
    """An SS 12000 object reference."""
    return {"id": entity_id}


def organisation_document(unit: Organisation) -> dict:
    """A school unit, under Skolverket's id for its code."""
    return {
        "id": unit.skolverket_id,
        "displayName": unit.display_name,
        "schoolUnitCode": unit.school_unit_code,
    }


@dataclass
class GroupInput:
    """What a ready test group's Group and Activity are made of."""

    group_id: str
    activity_id: str
    display_name: str
    school_type: str
    unit_ref: str
    parent_activity_id: str
    pupil_ids: list[str]
    duty_ids: list[str]


def group_document(data: GroupInput) -> dict:
    """The test group as an SS 12000 teaching group (Undervisning)."""
    return {
        "id": data.group_id,
        "displayName": data.display_name,
        "groupType": "Undervisning",
        "schoolType": data.school_type,
        "organisation": ref(data.unit_ref),
        "groupMemberships": [{"person": ref(person_id)} for person_id in sorted(data.pupil_ids)],
    }


def activity_document(data: GroupInput) -> dict:
    """The Activity linking the group and its teachers to the provaktivitet."""
    return {
        "id": data.activity_id,
        "displayName": data.display_name,
        "activityType": "Undervisning",
        "groups": [ref(data.group_id)],
        "teachers": [{"duty": ref(duty_id)} for duty_id in sorted(data.duty_ids)],
        "organisation": ref(data.unit_ref),
        "parentActivity": ref(data.parent_activity_id),
    }


def duty_document(duty: Duty, unit_ref: str) -> dict:
    """A teacher's duty at a published school unit."""
    return {"id": duty.id, "person": ref(duty.person_id), "dutyAt": ref(unit_ref), "dutyRole": duty.duty_role}


def chosen_duty(duties: list[Duty]) -> Duty | None:
    """The one duty that stands for a person at a unit: a teacher's duty first, then the lowest id."""
    if not duties:
        return None
    return min(duties, key=lambda duty: (duty.duty_role != PREFERRED_ROLE, duty.id))


def enrolment_document(enrolment: Enrolment, unit_ref: str) -> dict | None:
    """An enrolment in a school type Skolverket tests, or None."""
    if enrolment.cancelled or enrolment.school_type not in codes.DNP_SCHOOL_TYPES:
        return None
    document: dict = {"enroledAt": ref(unit_ref), "schoolType": enrolment.school_type}
    if enrolment.school_year is not None and 0 <= enrolment.school_year <= 10:
        document["schoolYear"] = enrolment.school_year
    if enrolment.education_code:
        document["educationCode"] = enrolment.education_code
    if enrolment.programme_id:
        document["programme"] = ref(enrolment.programme_id)
    return document


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(char for char in text if char.isalnum())


def _names_in(value: str, person: Person) -> bool:
    """True when a real name part (three letters or more) shows in ``value`` (e.g. an email address)."""
    folded = _fold(value)
    parts = f"{person.given_name} {person.middle_name or ''} {person.family_name}".replace("-", " ").split()
    return any(len(_fold(part)) >= 3 and _fold(part) in folded for part in parts)


def pseudonymous_civic_no(person_id: str) -> str:
    """A stable temporary-number-shaped civic number (ÅÅÅÅMMDDTxnn) derived from the id alone.

    Nothing of the real number goes into it; the letter and digits make it a ``tillfälligt``
    number, which can never be someone else's personnummer.
    """
    digest = hashlib.sha256(f"dnp-alias-civic:{person_id}".encode()).digest()
    day = int.from_bytes(digest[:2], "big") % 28 + 1
    month = digest[2] % 12 + 1
    year = 2000 + digest[3] % 20
    letter = "ABCDEFGHJKLMNPRSUVWXYZ"[digest[4] % 22]
    return f"{year:04d}{month:02d}{day:02d}T{letter}{digest[5] % 100:02d}"


def person_document(person: Person, enrolments: list[dict], protected_mode: str) -> dict:
    """A pupil or member of staff (an ORM object or a row); protected persons per the central setting."""
    protected = person.security_marking != "Ingen"  # Person.is_protected, readable on a plain row too
    if protected:
        given, family = PLACEHOLDER_NAMES
        if person.alias_given_name and person.alias_family_name:
            given, family = person.alias_given_name, person.alias_family_name
        civic = pseudonymous_civic_no(person.id) if protected_mode == ALIAS else person.civic_no
        marking = "Ingen" if protected_mode == ALIAS else person.security_marking
    else:
        given, family, civic, marking = person.given_name, person.family_name, person.civic_no, "Ingen"
    document: dict = {"id": person.id, "givenName": given}
    if person.middle_name and not protected:
        document["middleName"] = person.middle_name
    document["familyName"] = family
    document["eduPersonPrincipalNames"] = [person.eppn] if person.eppn else []
    document["civicNo"] = {"value": civic, "nationality": "SE"}
    emails = [
        {"value": email["value"], "type": email["type"]}
        for email in person.emails or []
        if email.get("type") in EMAIL_TYPES and "@" in str(email.get("value") or "")
    ]
    if protected:
        emails = [email for email in emails if not _names_in(email["value"], person)]
    if emails:
        document["emails"] = emails
    unique: list[dict] = []
    for enrolment in enrolments:
        if enrolment not in unique:
            unique.append(enrolment)
    if unique:
        document["enrolments"] = unique
    identifiers = [i for i in person.external_identifiers or [] if isinstance(i, dict)][:1]
    if identifiers and not protected:
        document["externalIdentifiers"] = identifiers
    if marking in codes.SECURITY_MARKINGS:
        document["securityMarking"] = marking
    return document
