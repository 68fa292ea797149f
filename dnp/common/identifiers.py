"""Shared rules for identifiers (ids, EPPNs, civic numbers, codes, emails).

Identifiers are compared, looked up and sent to Skolverket byte for byte, so a value that only
*looks* right must be refused: every pattern here matches the whole value (``fullmatch``, never
``$``, which also accepts a trailing newline) and uses explicit ASCII classes (``\\d`` would accept
full-width and other non-ASCII digits). Control characters, tab and newline included, are never
part of an identifier.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode categories that never belong in an identifier: controls (incl. \t \n \r), format
# characters (zero-width, bidi overrides), line/paragraph separators, surrogates, private use
# and unassigned code points.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Printable ASCII without space or '@' on either side of the one '@'; the scope is a domain.
EPPN = re.compile(r"[\x21-\x3f\x41-\x7e]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SCHOOL_UNIT_CODE = re.compile(r"[0-9]{8}")
ORGANISATION_NUMBER = re.compile(r"[0-9]{10}")


def has_hidden_characters(value: str) -> bool:
    """True when ``value`` holds a control, format or separator character (tab and newline too)."""
    if value.isascii() and value.isprintable():  # the usual case; none of its characters is hidden
        return False
    return any(unicodedata.category(char) in _HIDDEN_CATEGORIES for char in value)


def is_uuid(value: object) -> bool:
    """True for a UUID in its usual 36-character text form, nothing before or after."""
    return isinstance(value, str) and UUID.fullmatch(value) is not None


def is_eppn(value: object) -> bool:
    """True for ``local@scope.tld`` in printable ASCII (the scope is a domain name)."""
    return isinstance(value, str) and EPPN.fullmatch(value) is not None


def is_email(value: object) -> bool:
    """True for a plausible e-mail address without spaces or hidden characters."""
    return isinstance(value, str) and EMAIL.fullmatch(value) is not None and not has_hidden_characters(value)
