"""Civic number formats Skolverket accepts."""

from datetime import date

import pytest

from dnp.common.civic import civic_number_kind
from dnp.common.civic import make_civic_number


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("200901272385", "personnummer"),
        ("194512310012", None),  # wrong check digit
        ("201103652390", "samordningsnummer"),  # 5 March + 60, correct check digit
        ("20090127TF12", "tillfälligt"),
        ("20090127TM13", "tillfälligt"),
        ("20090230TF12", None),  # no 30 February
        ("20090127tf12", None),
        ("200901272385 ", None),
        ("20090127-2385", None),
        ("0901272385", None),
        ("200913012385", None),
        ("", None),
    ],
)
def test_civic_number_kinds(value, kind):
    assert civic_number_kind(value) == kind


def test_made_numbers_are_valid():
    for serial in range(0, 1000, 37):
        assert civic_number_kind(make_civic_number(date(2012, 2, 29), serial)) == "personnummer"
        assert civic_number_kind(make_civic_number(date(2012, 2, 29), serial, True)) == "samordningsnummer"


def test_non_strings_are_invalid():
    assert civic_number_kind(200901272385) is None


@pytest.mark.parametrize(
    "value",
    [
        "201106060112\n",  # `$` used to accept a trailing newline
        "20090127TF12\n",
        "\uff12\uff10\uff11\uff11\uff10\uff16\uff10\uff16\uff10\uff11\uff11\uff12",  # full-width digits
        "2011060601\u0661\u0662",  # Arabic-Indic digits
        "201106060112\r",
        "\t201106060112",
    ],
)
def test_civic_numbers_match_the_whole_value_in_ascii(value):
    assert civic_number_kind(value) is None
