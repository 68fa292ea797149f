"""Terms (VT = spring, HT = autumn) that test occasions belong to."""

from __future__ import annotations

import re
from datetime import date

_TERM = re.compile(r"(VT|HT) ([0-9]{4})")


def upcoming_terms(today: date, count: int = 3) -> list[str]:
    """The current term and the following ones."""
    season, year = ("VT", today.year) if today.month <= 6 else ("HT", today.year)
    terms = []
    for _ in range(count):
        terms.append(f"{season} {year}")
        season, year = ("HT", year) if season == "VT" else ("VT", year + 1)
    return terms


def is_term(value: str) -> bool:
    """True for 'VT 2027' / 'HT 2026'."""
    return bool(_TERM.fullmatch(value or ""))


def term_has_ended(term: str, today: date) -> bool:
    """True once the term is over (VT ends 30 June, HT 31 December)."""
    match = _TERM.fullmatch(term)
    if not match:
        return False
    season, year = match.group(1), int(match.group(2))
    end = date(year, 6, 30) if season == "VT" else date(year, 12, 31)
    return today > end
