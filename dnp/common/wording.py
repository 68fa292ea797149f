"""Swedish counts: noun and adjective agree with the number ("1 ny behörighet", "2 nya behörigheter")."""

from __future__ import annotations


def counted(number: int, singular: str, plural: str) -> str:
    """``number`` followed by ``singular`` for exactly one (also −1), else ``plural``."""
    return f"{number} {singular if abs(number) == 1 else plural}"
