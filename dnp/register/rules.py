"""Our own rules for register items, on top of Skolverket's JSON schemas (no database)."""

from __future__ import annotations

import re

from dnp.common import codes
from dnp.common import identifiers
from dnp.common.civic import civic_number_problem
from dnp.register.models import OrganisationType

# Free text may hold tab and newline; identifiers may not (see IDENTIFIER_KEYS).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_TEXT = 500
# Keys whose string values (or list of strings) are identifiers: ids, EPPNs, civic numbers,
# e-mail addresses and external identifiers (``value``), codes. They are matched and sent on
# byte for byte, so no control or invisible character is allowed in them.
IDENTIFIER_KEYS = frozenset(
    {
        "id",
        "value",
        "eduPersonPrincipalNames",
        "schoolUnitCode",
        "organisationNumber",
        "organisationCode",
        "municipalityCode",
        "educationCode",
        "groupCode",
        "signature",
    }
)
_IDENTIFIER_MESSAGE = "otillåtna tecken i identifieraren (kontrolltecken som tabb eller radbrytning)"

Problems = list[tuple[str, str]]


def _strings(node: object):
    """Every string in ``node`` with the key it sits under (lists inherit their key)."""
    stack: list[tuple[str | None, object]] = [(None, node)]
    while stack:
        key, value = stack.pop()
        kind = type(value)
        if kind is str:
            yield key, value
        elif kind is dict:
            stack.extend(value.items())
        elif kind is list:
            stack.extend((key, element) for element in value)


def _bad_identifier(value: str) -> bool:
    # Fast path: printable ASCII (the usual case) has no hidden characters.
    if value.isascii() and value.isprintable():
        return False
    return identifiers.has_hidden_characters(value)


def has_bad_text(node: object) -> bool:
    """Fast check (no paths built) for control characters, absurd length or a bad identifier.

    Run on every item of a large import: the strings are gathered once and checked together (one
    regular-expression search, one ASCII test), each one alone only when the identifiers are not plain.
    """
    texts: list[str] = []
    identifiers_found: list[str] = []
    for key, value in _strings(node):
        (identifiers_found if key in IDENTIFIER_KEYS else texts).append(value)
    texts += identifiers_found
    if not texts:
        return False
    # Newline joins them: it is allowed in free text and _CONTROL does not match it.
    if max(map(len, texts)) > MAX_TEXT or _CONTROL.search("\n".join(texts)):
        return True
    joined = "".join(identifiers_found)
    if joined.isascii() and joined.isprintable():
        return False
    return any(_bad_identifier(value) for value in identifiers_found)


def text_problems(node: object, path: str = "", key: str | None = None) -> Problems:
    """Strings with control characters (PostgreSQL refuses NUL) or absurd lengths, with their paths.

    Identifiers (``IDENTIFIER_KEYS``) are held to more: no tab, newline or invisible character.
    """
    if not path and not has_bad_text(node):
        return []
    problems: Problems = []
    if isinstance(node, str):
        if key in IDENTIFIER_KEYS and _bad_identifier(node):
            problems.append((path, _IDENTIFIER_MESSAGE))
        elif _CONTROL.search(node):
            problems.append((path, "otillåtna kontrolltecken i texten"))
        if len(node) > MAX_TEXT:
            problems.append((path, f"texten är längre än {MAX_TEXT} tecken"))
    elif isinstance(node, dict):
        for name, value in node.items():
            problems += text_problems(value, f"{path}.{name}" if path else str(name), str(name))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            problems += text_problems(value, f"{path}.{index}" if path else str(index), key)
    return problems


def _dicts(value: object) -> list[tuple[int, dict]]:
    """The dict elements of a list, with their positions (the schema reports the rest)."""
    if not isinstance(value, list):
        return []
    return [(index, element) for index, element in enumerate(value) if isinstance(element, dict)]


def organisation_problems(item: dict) -> Problems:
    """Rules for a huvudman or school unit."""
    problems: Problems = []
    kind = item.get("organisationType", OrganisationType.SKOLENHET)
    if kind not in tuple(OrganisationType):
        allowed = ", ".join(OrganisationType)
        problems.append(("organisationType", f"okänt värde {kind!r}; tillåtna: {allowed}"))
    if not str(item.get("displayName") or "").strip():
        problems.append(("displayName", "obligatoriskt fält saknas: 'displayName'"))
    code = item.get("schoolUnitCode")
    if kind == OrganisationType.SKOLENHET and not (
        isinstance(code, str) and identifiers.SCHOOL_UNIT_CODE.fullmatch(code)
    ):
        problems.append(("schoolUnitCode", "skolenhetskoden ska vara exakt 8 siffror"))
    number = item.get("organisationNumber")
    if kind == OrganisationType.HUVUDMAN and not (
        isinstance(number, str) and identifiers.ORGANISATION_NUMBER.fullmatch(number)
    ):
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
    eppns = item.get("eduPersonPrincipalNames")
    eppns = eppns if isinstance(eppns, list) else []
    if len(eppns) > 1:
        problems.append(("eduPersonPrincipalNames", "exakt en EPPN per person tillåts"))
    for index, eppn in enumerate(eppns):
        if isinstance(eppn, str) and not identifiers.is_eppn(eppn):
            problems.append(
                (
                    f"eduPersonPrincipalNames.{index}",
                    "EPPN ska ha formen namn@domän.se, med bara ASCII-tecken och utan mellanslag",
                )
            )
    civic_no = item.get("civicNo")
    civic = civic_no.get("value") if isinstance(civic_no, dict) else None
    if isinstance(civic, str):
        problem = civic_number_problem(civic)
        if problem:
            problems.append(("civicNo.value", problem))
    for index, email in _dicts(item.get("emails")):
        value, kind = email.get("value"), email.get("type")
        if isinstance(value, str) and not identifiers.is_email(value):
            problems.append((f"emails.{index}.value", "ogiltig e-postadress"))
        if kind is not None and kind not in codes.EMAIL_TYPES:
            allowed = ", ".join(codes.EMAIL_TYPES)
            problems.append((f"emails.{index}.type", f"okänd e-posttyp {kind!r}; tillåtna: {allowed}"))
    for index, enrolment in _dicts(item.get("enrolments")):
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
    for index, membership in _dicts(item.get("groupMemberships")):
        person = membership.get("person")
        if not isinstance(person.get("id") if isinstance(person, dict) else None, str):
            problems.append((f"groupMemberships.{index}.person", "medlemskapet saknar person"))
    return problems


ITEM_RULES = {
    "organisations": organisation_problems,
    "persons": person_problems,
    "duties": duty_problems,
    "groups": group_problems,
}
