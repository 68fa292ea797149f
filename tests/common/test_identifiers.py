"""Identifier patterns match the whole value in ASCII and never hold control characters."""

from __future__ import annotations

import pytest

from dnp.auth.roles import AccessError
from dnp.auth.roles import grant_role
from dnp.common import identifiers
from dnp.groups import terms
from dnp.ss12000 import query

UUID = "0b3e4c9a-1f2e-4c3d-8a9b-0c1d2e3f4a5b"
FULL_WIDTH_2027 = "\uff12\uff10\uff12\uff17"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("anna@skola.se", True),
        ("x.y-z_1@sub.kommun.se", True),
        ("anna@skola.se\n", False),
        ("an\tna@skola.se", False),
        ("anna@skola.se\r", False),
        ("anna @skola.se", False),
        ("anna@skola", False),
        ("ånna@skola.se", False),
        ("anna@sk\u00f6la.se", False),
        ("an\u200bna@skola.se", False),
        ("anna@@skola.se", False),
    ],
)
def test_eppn_pattern(value, valid):
    assert identifiers.is_eppn(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [(UUID, True), (UUID.upper(), True), (UUID + "\n", False), ("{" + UUID + "}", False), (UUID[:-1], False)],
)
def test_uuid_pattern(value, valid):
    assert identifiers.is_uuid(value) is valid
    assert query.is_uuid(value) is valid


def test_hidden_characters():
    for char in "\t\n\r\x00\x1f\x7f\x85\u200b\u2028\u2029\u202e\ufeff":
        assert identifiers.has_hidden_characters(f"a{char}b"), repr(char)
    assert not identifiers.has_hidden_characters("Åsa Öberg-Lind")


def test_grants_refuse_an_eppn_with_hidden_characters(db):
    # Surrounding whitespace of the form field is trimmed; what is left must be a clean EPPN.
    for eppn in ("anna@skola.se\u200b", "anna@skola.se\x00x", "anna@skola.se\u202e"):
        with pytest.raises(AccessError):
            grant_role("test", eppn, "central_admin", session=db)
    assert grant_role("test", "anna@skola.se", "central_admin", session=db) == 1


def test_terms_and_query_values_are_ascii_and_whole():
    assert terms.is_term("VT 2027")
    assert not terms.is_term("VT 2027\n")
    assert not terms.is_term(f"VT {FULL_WIDTH_2027}")
    assert not terms.term_has_ended(f"VT {FULL_WIDTH_2027}", terms.date(2030, 1, 1))
    with pytest.raises(query.BadQuery):
        query.parse_time("after", "2026-11-28T10:30:00Z\n")
    with pytest.raises(query.BadQuery):
        query.parse_time("after", f"{FULL_WIDTH_2027}-11-28T10:30:00Z")
    assert query.parse_time("after", "2026-11-28T10:30:00.5Z").microsecond == 500000


def test_limit_must_be_ascii_digits():
    tokens = query.PageTokens("secret")
    with pytest.raises(query.BadQuery):
        query.page_request("persons", {"limit": "\uff15"}, tokens, 10, 100, ())
    assert query.page_request("persons", {"limit": "5"}, tokens, 10, 100, ()).limit == 5
