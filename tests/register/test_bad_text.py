"""The fast check of an ingest item's text finds what the per-string check finds."""

from __future__ import annotations

import pytest

from dnp.register.rules import has_bad_text
from dnp.register.rules import text_problems

PLAIN = {
    "id": "3f1c2b0e-6d1a-4c55-9d55-1d0a4f3b8e21",
    "givenName": "Åsa",
    "familyName": "Öberg-Ängel",
    "eduPersonPrincipalNames": ["asa.oberg@elev.example.se"],
    "emails": [{"value": "asa@example.se", "type": "Skola elev"}],
    "note": "två rader\nmed tabb\tgår bra i fritext",
}


@pytest.mark.parametrize(
    ("change", "bad"),
    [
        ({}, False),
        ({"givenName": "Å" * 500}, False),
        ({"givenName": "Å" * 501}, True),
        ({"familyName": "Ober\x00g"}, True),
        ({"note": "vertikal\x0btabb"}, True),
        ({"eduPersonPrincipalNames": ["asa\t@elev.example.se"]}, True),
        ({"eduPersonPrincipalNames": ["asa\u200b@elev.example.se"]}, True),  # zero-width space
        ({"emails": [{"value": "åsa@exempel.se", "type": "Skola elev"}]}, False),  # not ASCII, not hidden
        ({"emails": [{"value": "asa@example.se\n", "type": "Skola elev"}]}, True),
        ({"id": "3f1c2b0e-6d1a-4c55-9d55-1d0a4f3b8e2\u00ad"}, True),  # soft hyphen: a format character
    ],
)
def test_the_fast_check_agrees_with_the_problems_listed(change, bad):
    item = {**PLAIN, **change}
    assert has_bad_text(item) is bad
    assert bool(text_problems(item)) is bad


def test_no_strings_at_all_is_fine():
    assert has_bad_text({"schoolYear": 9, "cancelled": False, "list": []}) is False
