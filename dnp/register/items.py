"""Checking and shaping ingest items one by one, without the database (the first step of an ingest).

Pure functions of the items alone, so a large import can run them for the next batch in a background
thread while the database writes the last one (see ``file_import``).
"""

from __future__ import annotations

from typing import NamedTuple

from dnp.register import schemas
from dnp.register.models import OrganisationType
from dnp.register.rows import rows_for
from dnp.register.rules import ITEM_RULES
from dnp.register.rules import text_problems

Rows = tuple[dict, list[dict]]


class PreparedItem(NamedTuple):
    """One item with its position in the input, its own problems and, when it has none, its rows."""

    index: int
    item: object
    problems: list[tuple[str, str]]
    rows: Rows | None


def prepare_batch(kind: str, items: list, offset: int = 0) -> list[PreparedItem]:
    """Check each item of ``kind`` on its own and shape the good ones into rows (``offset``: first index)."""
    prepared = []
    for position, item in enumerate(items):
        problems = item_problems(kind, item)
        rows = rows_for(kind, item) if not problems else None
        prepared.append(PreparedItem(offset + position, item, problems, rows))
    return prepared


def item_problems(kind: str, item: object) -> list[tuple[str, str]]:
    """Every problem of one item by itself: Skolverket's schema, storable text, our rules."""
    if not isinstance(item, dict):
        return [("", "fel typ: varje element ska vara ett objekt")]
    if schemas.is_valid(kind, item):
        problems = []
    else:
        problems = schemas.schema_problems(schemas.item_validator(kind), item)
        if kind == "organisations" and item.get("organisationType") == OrganisationType.HUVUDMAN:
            # Our extension: a huvudman has an organisation number, not a school unit code.
            problems = [p for p in problems if "'schoolUnitCode'" not in p[1]]
    problems += text_problems(item)
    # Our rules run even when the schema failed, so one answer lists every problem; a rule
    # finding at a field the schema or text check already faulted would only repeat it.
    covered = schemas.covered_paths(problems)
    problems += [problem for problem in ITEM_RULES[kind](item) if not _is_covered(problem[0], covered)]
    return problems


def _is_covered(path: str, covered: set[str]) -> bool:
    while True:
        if path in covered:
            return True
        if "." not in path:
            return False
        path = path.rsplit(".", 1)[0]
