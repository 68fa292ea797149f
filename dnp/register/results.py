"""What a register ingest answers: its summary, or the rejection with one problem per place."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

KINDS = ("organisations", "persons", "duties", "groups")
ENTITY_NAMES = {"organisations": "Organisation", "persons": "Person", "duties": "Duty", "groups": "Group"}


@dataclass
class Problem:
    """One thing wrong with the input: which item, which field, why."""

    kind: str
    index: int | None
    id: str | None
    field: str
    message: str
    conflict: bool = False

    def as_dict(self) -> dict:
        """JSON form for API responses."""
        return {
            "entity": ENTITY_NAMES.get(self.kind, self.kind),
            "index": self.index,
            "id": self.id,
            "field": self.field,
            "message": self.message,
        }


class IngestRejected(Exception):
    """The input had problems; nothing was stored."""

    def __init__(self, problems: list[Problem], total: int):
        super().__init__(f"{total} problem(s) in the input")
        self.problems = problems
        self.total = total

    @property
    def is_conflict(self) -> bool:
        """True when every problem is a clash with stored data (HTTP 409)."""
        return all(problem.conflict for problem in self.problems)


@dataclass
class IngestSummary:
    """What a request or file changed."""

    created: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    updated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    unchanged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    not_found: list[str] = field(default_factory=list)
    changed_ids: dict[str, list[str]] = field(default_factory=lambda: {kind: [] for kind in KINDS})

    def as_dict(self) -> dict:
        """JSON form for API responses and the CLI."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
        }
