"""Each of Skolverket's rules for a test group, with good and bad examples."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dnp.groups.validation import GroupFacts
from dnp.groups.validation import MemberFacts
from dnp.groups.validation import validate_group


def pupil(**overrides) -> MemberFacts:
    base = MemberFacts(
        person_id="p1",
        role="pupil",
        label="Alice Berg",
        given_name="Alice",
        family_name="Berg",
        eppn="e1a2b3c4@elev.kommun.se",
        civic_no="200901272385",
        protected=False,
        has_alias=False,
        emails=[],
        enrolled=True,
        school_type="GR",
        school_year=9,
    )
    return replace(base, **overrides)


def teacher(**overrides) -> MemberFacts:
    base = MemberFacts(
        person_id="t1",
        role="staff",
        label="Karin Lund",
        given_name="Karin",
        family_name="Lund",
        eppn="p9f8e7d6@personal.kommun.se",
        civic_no="197501012384",
        protected=False,
        has_alias=False,
        emails=[{"value": "karin@kommun.se", "type": "Skola personal"}],
        duty_role="Lärare",
    )
    return replace(base, **overrides)


def codes(members, school_type="GR", year=9, name="MA 9A") -> dict[str, str]:
    issues = validate_group(GroupFacts(name, school_type, year, members))
    return {issue.code: issue.severity for issue in issues}


def test_a_good_group_has_no_issues():
    assert codes([pupil(), teacher()]) == {}


def test_at_least_one_pupil():
    assert codes([teacher()]) == {"no_pupils": "error"}


def test_no_staff_is_a_warning():
    assert codes([pupil()]) == {"no_staff": "warning"}


def test_group_needs_a_name():
    assert codes([pupil(), teacher()], name="  ") == {"name": "error"}


@pytest.mark.parametrize(
    ("eppn", "expected"),
    [
        (None, {"no_eppn": "error"}),
        ("", {"no_eppn": "error"}),
        ("alice.berg@elev.kommun.se", {"eppn_content": "warning"}),
        ("aberg99@elev.kommun.se", {"eppn_content": "warning"}),
        ("200901272385@elev.kommun.se", {"eppn_content": "error"}),
        ("x0901272385@elev.kommun.se", {"eppn_content": "error"}),
        ("e1a2b3c4@elev.kommun.se", {}),
        ("al9@elev.kommun.se", {}),  # two letters of a name are not a name
    ],
)
def test_eppn_rules(eppn, expected):
    assert codes([pupil(eppn=eppn), teacher()]) == expected


@pytest.mark.parametrize(
    "eppn",
    [
        "kanariezq.fagelzq@elev.kommun.se",  # accents folded away
        "KanarieZQ99@elev.kommun.se",  # letter case
        "x-fagel_zq@elev.kommun.se",  # separators
        "fågelzq@elev.kommun.se",
    ],
)
def test_a_protected_persons_eppn_with_the_real_name_blocks_ready(eppn):
    protected = pupil(
        label="Alex Andersson",
        given_name="Kanariezq",
        family_name="Fågelzq",
        protected=True,
        has_alias=True,
        eppn=eppn,
    )
    issues = validate_group(GroupFacts("MA 9A", "GR", 9, [protected, teacher()]))
    assert [(i.code, i.severity) for i in issues] == [("eppn_content", "error")]
    assert "skyddad identitet" in issues[0].message and "riktiga namnet" in issues[0].message
    assert "EPPN utan namn" in issues[0].fix and "elevregistret" in issues[0].fix
    assert issues[0].person_label == "Alex Andersson"  # the issue names the alias, nothing else
    # The alias in an EPPN gives nothing away.
    alias_eppn = replace(protected, eppn="alex.andersson@elev.kommun.se")
    assert codes([alias_eppn, teacher()]) == {}


def test_pupil_and_staff_roles_need_different_eppns():
    same = teacher(person_id="p1")
    assert codes([pupil(), same])["same_eppn_roles"] == "error"


@pytest.mark.parametrize(
    ("civic", "ok"),
    [
        ("200901272385", True),
        ("201103652390", True),  # samordningsnummer
        ("20090127TF12", True),  # temporary
        ("200901272384", False),
        ("090127-2385", False),
        ("", False),
    ],
)
def test_civic_number_formats(civic, ok):
    result = codes([pupil(civic_no=civic), teacher()])
    assert ("civic_no" not in result) is ok


def test_staff_email_present_and_typed():
    assert codes([pupil(), teacher(emails=[])]) == {"staff_email": "error"}
    assert codes([pupil(), teacher(emails=[{"value": "k@kommun.se", "type": "Privat"}])]) == {
        "staff_email_type": "warning"
    }


def test_staff_need_a_duty_at_the_unit():
    assert codes([pupil(), teacher(duty_role=None)]) == {"no_duty": "error"}


@pytest.mark.parametrize(
    ("school_type", "year", "code", "expected"),
    [
        ("GR", None, None, "school_year"),
        ("SP", None, None, "school_year"),
        ("SAM", None, None, "school_year"),
        ("GY", None, None, "education_code"),
        ("GY", None, "NANAT", None),
        ("GRS", 9, None, "school_type"),
        ("VUX", None, None, "school_type"),
    ],
)
def test_enrolment_rules(school_type, year, code, expected):
    member = pupil(school_type=school_type, school_year=year, education_code=code)
    result = codes(
        [member, teacher()], school_type=school_type if school_type in ("GY",) else "GR", year=None
    )
    errors = {k for k, v in result.items() if v == "error"}
    assert errors == ({expected} if expected else set())


def test_pupil_must_be_enrolled_at_the_unit():
    assert codes([pupil(enrolled=False, school_type=None), teacher()]) == {"no_enrolment": "error"}


def test_test_fit_is_a_warning():
    assert codes([pupil(school_year=8), teacher()]) == {"test_fit": "warning"}
    assert codes([pupil(school_type="GY", school_year=None, education_code="NANAT"), teacher()]) == {
        "test_fit": "warning"
    }


def test_protected_person_needs_alias():
    assert codes([pupil(protected=True, has_alias=False), teacher()]) == {"protected_alias": "error"}
    assert codes([pupil(protected=True, has_alias=True), teacher()]) == {}


def test_errors_come_first_and_say_what_to_fix():
    issues = validate_group(GroupFacts("G", "GR", 9, [pupil(eppn=None, school_year=8)]))
    assert [i.severity for i in issues] == sorted([i.severity for i in issues], key=lambda s: s != "error")
    assert all(issue.fix for issue in issues)
    assert issues[0].person_label == "Alice Berg"
