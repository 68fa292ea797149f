"""Swedish civic numbers: personnummer, samordningsnummer and temporary numbers."""

from __future__ import annotations

import re
from datetime import date

# Whole-value ASCII patterns: ``$`` would accept a trailing newline and ``\d`` full-width digits.
_DIGITS = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{3})([0-9])")
_TEMPORARY = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T[A-Z]([0-9])([0-9])")


def luhn_check_digit(nine_digits: str) -> int:
    """The Luhn check digit for the nine digits YYMMDDNNN."""
    total = 0
    for position, char in enumerate(nine_digits):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _valid_date(year: str, month: str, day: int) -> bool:
    try:
        date(int(year), int(month), day)
    except ValueError:
        return False
    return True


def civic_number_kind(value: str) -> str | None:
    """Return 'personnummer', 'samordningsnummer' or 'tillfälligt', or None when invalid.

    The 12-digit forms must have a real birth date (day + 60 for samordningsnummer) and a
    correct Luhn digit; the temporary form is ``YYYYMMDDT<letter><digit><digit>``.
    """
    if not isinstance(value, str):
        return None
    match = _DIGITS.fullmatch(value)
    if match:
        year, month, day, serial, check = match.groups()
        kind = "personnummer"
        day_number = int(day)
        if day_number > 60:
            kind, day_number = "samordningsnummer", day_number - 60
        if not _valid_date(year, month, day_number):
            return None
        if luhn_check_digit(value[2:11]) != int(check):
            return None
        return kind
    match = _TEMPORARY.fullmatch(value)
    if match and _valid_date(match.group(1), match.group(2), int(match.group(3))):
        return "tillfälligt"
    return None


def civic_number_problem(value: str) -> str | None:
    """A Swedish explanation of what is wrong with a civic number, or None when valid."""
    if civic_number_kind(value) is not None:
        return None
    return (
        "ogiltigt personnummer: ange 12 siffror utan bindestreck (ÅÅÅÅMMDDNNNK) med korrekt "
        "kontrollsiffra, samordningsnummer (dag + 60) eller tillfälligt nummer ÅÅÅÅMMDDTFxx"
    )


def make_civic_number(born: date, serial: int, coordination: bool = False) -> str:
    """Build a valid 12-digit number for a birth date and a 3-digit serial (for demo data)."""
    day = born.day + (60 if coordination else 0)
    nine = f"{born:%y%m}{day:02d}{serial:03d}"
    return f"{born.year:04d}{born.month:02d}{day:02d}{serial:03d}{luhn_check_digit(nine)}"
