"""Skolverket's rules for a test group, checked before it may be marked ready (pure functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field

from dnp.common import codes
from dnp.common.civic import civic_number_kind
from dnp.common.people import eppn_has_name
from dnp.groups.models import MemberRole


@dataclass
class MemberFacts:
    """What validation needs to know about one member of a test group."""

    person_id: str
    role: str  # pupil | staff
    label: str  # the name DNP shows (alias for protected persons)
    given_name: str
    family_name: str
    eppn: str | None
    civic_no: str
    protected: bool
    has_alias: bool
    emails: list[dict] = field(default_factory=list)
    # Pupils: the enrolment at the group's school unit, if any.
    enrolled: bool = False
    school_type: str | None = None
    school_year: int | None = None
    education_code: str | None = None
    # Staff: their duty at the school unit, if any.
    duty_role: str | None = None


@dataclass
class GroupFacts:
    """A test group and the test it is for."""

    display_name: str
    test_school_type: str
    test_school_year: int | None
    members: list[MemberFacts]


@dataclass(frozen=True)
class Issue:
    """One problem: blocking (error) or not (warning), what is wrong and how to fix it."""

    severity: str  # error | warning
    code: str
    message: str
    fix: str
    person_id: str | None = None
    person_label: str | None = None

    @property
    def blocking(self) -> bool:
        """Errors stop the group from being marked ready."""
        return self.severity == "error"


FIX_REGISTER = (
    "Rätta uppgiften i elevregistret (skoladministrativa systemet); ändringen kommer hit automatiskt."
)
FIX_GROUP = "Ta bort personen ur provgruppen, eller rätta uppgiften i registret."
PROTECTED_NAME_IN_EPPN = (
    "Personen har skyddad identitet men EPPN innehåller det riktiga namnet; "
    "det skulle skickas tillsammans med aliasnamnet."
)
FIX_PROTECTED_EPPN = (
    "Be om en ny EPPN utan namn (t.ex. slumpade tecken) i elevregistret (skoladministrativa "
    "systemet); den nya kommer hit automatiskt."
)


def eppn_problem(member: MemberFacts) -> tuple[str, str] | None:
    """Civic number or name inside the EPPN's local part: (severity, message).

    A name is only Skolverket's warning for most people, but for a protected person the EPPN goes out
    next to the alias and would tie the alias to the real name: that blocks.
    """
    if not member.eppn:
        return None
    local = member.eppn.split("@", 1)[0]
    digits = re.sub(r"\D", "", local)
    civic_digits = re.sub(r"\D", "", member.civic_no or "")
    if civic_digits and (civic_digits[-10:] in digits or (len(digits) >= 6 and digits in civic_digits)):
        return "error", "EPPN innehåller personnumret."
    if eppn_has_name(member.eppn, member.given_name, member.family_name):
        if member.protected:
            return "error", PROTECTED_NAME_IN_EPPN
        return "warning", "EPPN innehåller personens namn (Skolverket varnar, kod 3047)."
    return None


def validate_group(group: GroupFacts) -> list[Issue]:
    """Every problem Skolverket would reject or warn about, errors first."""
    issues: list[Issue] = []
    if not group.display_name.strip():
        issues.append(Issue("error", "name", "Provgruppen saknar namn.", "Ge gruppen ett namn."))
    pupils = [m for m in group.members if m.role == MemberRole.PUPIL]
    staff = [m for m in group.members if m.role == MemberRole.STAFF]
    if not pupils:
        issues.append(Issue("error", "no_pupils", "Provgruppen har inga elever.", "Lägg till minst en elev."))
    if not staff:
        issues.append(
            Issue(
                "warning",
                "no_staff",
                "Ingen personal i gruppen: ingen lärare kommer att kunna se elevernas resultat.",
                "Lägg till minst en lärare.",
            )
        )
    pupil_ids = {m.person_id for m in pupils}
    for member in group.members:
        issues += _person_issues(member)
        if member.role == MemberRole.PUPIL:
            issues += _pupil_issues(member, group)
        else:
            issues += _staff_issues(member)
            if member.person_id in pupil_ids:
                issues.append(
                    _issue(
                        "error",
                        "same_eppn_roles",
                        member,
                        "Samma person är både elev och personal: elev- och personalroll måste ha olika EPPN.",
                        "Ta bort personen som elev eller som personal.",
                    )
                )
    return sorted(issues, key=lambda issue: (issue.severity != "error", issue.person_label or ""))


def _issue(severity: str, code: str, member: MemberFacts, message: str, fix: str) -> Issue:
    return Issue(severity, code, message, fix, member.person_id, member.label)


def _person_issues(member: MemberFacts) -> list[Issue]:
    issues = []
    if not member.eppn:
        issues.append(
            _issue("error", "no_eppn", member, "Saknar EPPN (användarnamn i federationen).", FIX_REGISTER)
        )
    elif problem := eppn_problem(member):
        severity, message = problem
        fix = FIX_PROTECTED_EPPN if message == PROTECTED_NAME_IN_EPPN else FIX_REGISTER
        issues.append(_issue(severity, "eppn_content", member, message, fix))
    if civic_number_kind(member.civic_no) is None:
        issues.append(
            _issue(
                "error", "civic_no", member, "Personnumret har fel format eller kontrollsiffra.", FIX_REGISTER
            )
        )
    if member.protected and not member.has_alias:
        issues.append(
            _issue(
                "error",
                "protected_alias",
                member,
                "Personen har skyddad identitet men saknar aliasnamn.",
                "Lägg in aliasnamn i registret; riktiga namn skickas aldrig för skyddade personer.",
            )
        )
    return issues


def _pupil_issues(member: MemberFacts, group: GroupFacts) -> list[Issue]:
    if not member.enrolled:
        return [
            _issue("error", "no_enrolment", member, "Eleven är inte inskriven på skolenheten.", FIX_GROUP)
        ]
    issues = []
    if member.school_type not in codes.DNP_SCHOOL_TYPES:
        message = f"Skolformen {member.school_type} kan inte göra digitala nationella prov."
        issues.append(_issue("error", "school_type", member, message, FIX_GROUP))
    elif member.school_type in codes.YEAR_SCHOOL_TYPES and member.school_year is None:
        issues.append(_issue("error", "school_year", member, "Årskurs saknas i inskrivningen.", FIX_REGISTER))
    elif member.school_type == "GY" and not member.education_code:
        issues.append(
            _issue("error", "education_code", member, "Studievägskod saknas i inskrivningen.", FIX_REGISTER)
        )
    if member.school_type != group.test_school_type and member.school_type in codes.DNP_SCHOOL_TYPES:
        message = f"Eleven går i {member.school_type} men provet gäller {group.test_school_type}."
        issues.append(
            _issue("warning", "test_fit", member, message, "Kontrollera att eleven ska göra provet.")
        )
    elif group.test_school_year and member.school_year and member.school_year != group.test_school_year:
        message = (
            f"Eleven går i årskurs {member.school_year} men provet gäller årskurs {group.test_school_year}."
        )
        issues.append(
            _issue("warning", "test_fit", member, message, "Kontrollera att eleven ska göra provet.")
        )
    return issues


def _staff_issues(member: MemberFacts) -> list[Issue]:
    issues = []
    if not member.duty_role:
        issues.append(
            _issue(
                "error",
                "no_duty",
                member,
                "Har ingen tjänstgöring på skolenheten.",
                "Lägg in tjänstgöringen i personalsystemet, eller ta bort personen ur gruppen.",
            )
        )
    if not any(email.get("value") for email in member.emails):
        issues.append(
            _issue("error", "staff_email", member, "E-postadress saknas (krävs för personal).", FIX_REGISTER)
        )
    elif not any(email.get("type") == "Skola personal" for email in member.emails):
        issues.append(
            _issue(
                "warning",
                "staff_email_type",
                member,
                "E-postadressen är inte av typen ”Skola personal”.",
                FIX_REGISTER,
            )
        )
    return issues
