"""Our own rules for register items, on top of Skolverket's JSON schemas (no database)."""

from __future__ import annotations

import re

from dnp.services import codes
from dnp.services.civic import civic_number_problem

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EPPN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TEXT = 500

Problems = list[tuple[str, str]]


def has_bad_text(node: object) -> bool:
    """Fast check (no paths built) for any string with control characters or absurd length."""
    stack = [node]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is str:
            if len(value) > MAX_TEXT or _CONTROL.search(value):
                return True
        elif kind is dict:
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
    return False


def text_problems(node: object, path: str = "") -> Problems:
    """Strings with control characters (PostgreSQL refuses NUL) or absurd lengths, with their paths."""
    if not path and not has_bad_text(node):
        return []
    problems: Problems = []
    if isinstance(node, str):
        if _CONTROL.search(node):
            problems.append((path, "otillåtna kontrolltecken i texten"))
        if len(node) > MAX_TEXT:
            problems.append((path, f"texten är längre än {MAX_TEXT} tecken"))
    elif isinstance(node, dict):
        for key, value in node.items():
            problems += text_problems(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            problems += text_problems(value, f"{path}.{index}" if path else str(index))
    return problems


def organisation_problems(item: dict) -> Problems:
    """Rules for a huvudman or school unit."""
    problems: Problems = []
    kind = item.get("organisationType", "Skolenhet")
    if kind not in codes.ORGANISATION_TYPES:
        problems.append(("organisationType", f"okänt värde {kind!r}; tillåtna: Huvudman, Skolenhet"))
    if not str(item.get("displayName") or "").strip():
        problems.append(("displayName", "obligatoriskt fält saknas: 'displayName'"))
    code = item.get("schoolUnitCode")
    if kind == "Skolenhet" and not (isinstance(code, str) and re.fullmatch(r"\d{8}", code)):
        problems.append(("schoolUnitCode", "skolenhetskoden ska vara exakt 8 siffror"))
    number = item.get("organisationNumber")
    if kind == "Huvudman" and not (isinstance(number, str) and re.fullmatch(r"\d{10}", number)):
        problems.append(("organisationNumber", "organisationsnumret ska vara 10 siffror"))
    school_types = item.get("schoolTypes", [])
    if not isinstance(school_types, list):
        problems.append(("schoolTypes", "fel typ: väntade en lista"))
    else:
        for index, value in enumerate(school_types):
            if value not in codes.SCHOOL_TYPES:
                problems.append((f"schoolTypes.{index}", f"okänd skolform {value!r}"))
    return problems


def person_problems(item: dict) -> Problems:
    """Rules for a person: one EPPN, a valid civic number, known email and school types."""
    problems: Problems = []
    eppns = item.get("eduPersonPrincipalNames") or []
    if len(eppns) > 1:
        problems.append(("eduPersonPrincipalNames", "exakt en EPPN per person tillåts"))
    for index, eppn in enumerate(eppns):
        if isinstance(eppn, str) and not _EPPN.match(eppn):
            problems.append((f"eduPersonPrincipalNames.{index}", "EPPN ska ha formen namn@domän.se"))
    civic = (item.get("civicNo") or {}).get("value")
    if isinstance(civic, str):
        problem = civic_number_problem(civic)
        if problem:
            problems.append(("civicNo.value", problem))
    for index, email in enumerate(item.get("emails") or []):
        value, kind = email.get("value"), email.get("type")
        if isinstance(value, str) and not _EMAIL.match(value):
            problems.append((f"emails.{index}.value", "ogiltig e-postadress"))
        if kind is not None and kind not in codes.EMAIL_TYPES:
            allowed = ", ".join(codes.EMAIL_TYPES)
            problems.append((f"emails.{index}.type", f"okänd e-posttyp {kind!r}; tillåtna: {allowed}"))
    for index, enrolment in enumerate(item.get("enrolments") or []):
        school_type = enrolment.get("schoolType")
        if school_type not in codes.SCHOOL_TYPES:
            problems.append((f"enrolments.{index}.schoolType", f"okänd skolform {school_type!r}"))
        year = enrolment.get("schoolYear")
        if isinstance(year, float) and not year.is_integer():
            problems.append((f"enrolments.{index}.schoolYear", "årskursen ska vara ett heltal"))
    for field in ("aliasGivenName", "aliasFamilyName"):
        if field in item and item[field] is not None and not isinstance(item[field], str):
            problems.append((field, "fel typ: väntade string"))
    return problems


def duty_problems(item: dict) -> Problems:
    """Rules for a duty: the role comes from the SS 12000 list."""
    role = item.get("dutyRole")
    if role not in codes.DUTY_ROLES:
        return [("dutyRole", f"okänd tjänstgöringsroll {role!r}")]
    return []


def group_problems(item: dict) -> Problems:
    """Rules for a class or teaching group: every membership names a person."""
    problems: Problems = []
    for index, membership in enumerate(item.get("groupMemberships") or []):
        if not isinstance((membership.get("person") or {}).get("id"), str):
            problems.append((f"groupMemberships.{index}.person", "medlemskapet saknar person"))
    return problems


ITEM_RULES = {
    "organisations": organisation_problems,
    "persons": person_problems,
    "duties": duty_problems,
    "groups": group_problems,
}
