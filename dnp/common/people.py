"""How a register person is shown: alias for protected persons, never an EPPN that holds the real name.

Shared by the group editor, the role administration and the pages that list people; works on
``Person`` rows and on query rows with the same fields.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dnp.register.models import Person


@functools.lru_cache(maxsize=8192)  # the same names and EPPNs are folded on every page view
def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in text if char.isalnum())


def eppn_has_name(eppn: str | None, *names: str | None) -> bool:
    """True when a name part of three letters or more shows in the EPPN's local part (Skolverket's 3047).

    Letter case, accents and separators do not hide it: ``Kanariezq.Fagelzq`` holds ``Fågelzq``.
    """
    if not eppn:
        return False
    folded = _fold(eppn.rpartition("@")[0] or eppn)
    return any(
        len(_fold(part)) >= 3 and _fold(part) in folded
        for name in names
        for part in re.split(r"[\s-]+", name or "")
    )


def person_label(person: Person) -> str:
    """The name DNP shows for a person: alias only for protected persons."""
    if person.security_marking != "Ingen":
        alias = " ".join(part for part in (person.alias_given_name, person.alias_family_name) if part)
        return alias or "Skyddad person"
    return f"{person.given_name} {person.family_name}"


def person_sort_key(person: Person) -> tuple[str, str, str]:
    """Order persons by the name shown: a protected person by alias, so the order tells nothing more."""
    if person.security_marking != "Ingen":
        family, given = person.alias_family_name, person.alias_given_name
    else:
        family, given = person.family_name, person.given_name
    return ((family or "").casefold(), (given or "").casefold(), person.id)


def shown_eppn(person: Person) -> str | None:
    """The EPPN DNP may show and search: not a protected person's EPPN that holds the real name.

    Shown beside the alias it would tie the alias to the real name; such an EPPN also blocks ready.
    """
    if person.security_marking != "Ingen" and eppn_has_name(
        person.eppn, person.given_name, person.family_name
    ):
        return None
    return person.eppn
