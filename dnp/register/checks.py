"""Checks of ingest items against each other and the stored register."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy import select
from sqlmodel import Session

from dnp.common.sql import among
from dnp.register.models import Duty
from dnp.register.models import Organisation
from dnp.register.models import Person
from dnp.register.models import RegisterGroup

TABLES: dict[str, Table] = {
    "organisations": Organisation.__table__,
    "persons": Person.__table__,
    "duties": Duty.__table__,
    "groups": RegisterGroup.__table__,
}
KIND_SWEDISH = {
    "organisations": "organisationen",
    "persons": "personen",
    "duties": "tjänstgöringen",
    "groups": "gruppen",
}
CHUNK = 500

_IN_INPUT = "värdet {value!r} används redan av en annan post i indata"
_IN_REGISTER = "värdet {value!r} används redan av en annan post i registret"

Finding = tuple[tuple[int, str | None, str, str], bool]


def _references(kind: str, item: dict) -> list[tuple[str, str, str]]:
    """(field path, target kind, id) for every reference an item makes."""
    found = []
    positions: Counter = Counter()  # each list's next position
    for path, target, target_id in _targets(kind, item):
        if "{}" in path:
            position = positions[path]
            positions[path] += 1
            path = path.format(position)
        found.append((path, target, target_id))
    return found


def _targets(kind: str, item: dict) -> list[tuple[str, str, str]]:
    """(field path, with ``{}`` for a list position, target kind, id) for every reference an item makes."""
    if kind == "persons":
        return [
            ("enrolments.{}.enroledAt.id", "organisations", enrolment["enroledAt"]["id"])
            for enrolment in item.get("enrolments") or []
        ]
    if kind == "groups":
        found = [("organisation.id", "organisations", item["organisation"]["id"])]
        found += [
            ("groupMemberships.{}.person.id", "persons", membership["person"]["id"])
            for membership in item.get("groupMemberships") or []
        ]
        return found
    if kind == "duties":
        return [
            ("person.id", "persons", item["person"]["id"]),
            ("dutyAt.id", "organisations", item["dutyAt"]["id"]),
        ]
    if item.get("parentOrganisation"):
        return [("parentOrganisation.id", "organisations", item["parentOrganisation"]["id"])]
    return []


class ReferenceChecker:
    """Remembers what the input holds so far and checks new items against it and the database."""

    def __init__(self, *, session: Session):
        self.session = session
        self.seen: dict[str, set[str]] = {kind: set() for kind in TABLES}
        self.eppn_owner: dict[str, str] = {}
        self.unit_code_owner: dict[str, str] = {}

    def _existing(self, kind: str, ids: set[str], column: str = "id", fold: bool = False) -> dict[str, str]:
        table = TABLES[kind]
        # EPPNs are compared in any letter case (their scope is a domain): lower(eppn) is indexed.
        stored = func.lower(table.c[column]) if fold else table.c[column]
        found: dict[str, str] = {}
        values = sorted(ids)
        for start in range(0, len(values), CHUNK):
            part = values[start : start + CHUNK]
            query = select(stored, table.c.id).where(among(stored, part, session=self.session))
            found.update(self.session.connection().execute(query).all())
        return found

    def check(self, kind: str, items: list[tuple[int, dict]], mode: str) -> list[Finding]:
        """Duplicates within the input, clashes with stored data, and dangling references."""
        findings: list[Finding] = []
        batch_ids = {item["id"] for _, item in items}
        for index, item in items:
            if item["id"] in self.seen[kind]:
                findings.append(((index, item["id"], "id", "id:t förekommer flera gånger i indata"), False))
            self.seen[kind].add(item["id"])
        if mode == "create":
            for existing_id in self._existing(kind, batch_ids):
                index = next(i for i, item in items if item["id"] == existing_id)
                message = f"{KIND_SWEDISH[kind]} finns redan (POST skapar bara nya; använd PUT)"
                findings.append(((index, existing_id, "id", message), True))
        if kind == "persons":
            findings += self._check_unique(
                items, "eduPersonPrincipalNames", "eppn", self.eppn_owner, "persons", fold=True
            )
        if kind == "organisations":
            findings += self._check_unique(
                items, "schoolUnitCode", "school_unit_code", self.unit_code_owner, "organisations"
            )
        findings += self._check_references(kind, items)
        return findings

    def _check_unique(
        self, items, field: str, column: str, owners: dict[str, str], kind: str, fold: bool = False
    ) -> list[Finding]:
        findings: list[Finding] = []
        values: dict[str, tuple[int, str, str]] = {}
        for index, item in items:
            raw = item.get(field)
            value = raw[0] if isinstance(raw, list) and raw else raw
            if not isinstance(value, str) or not value:
                continue
            key = value.lower() if fold else value
            owner = owners.setdefault(key, item["id"])
            if owner != item["id"]:
                findings.append(((index, item["id"], field, _IN_INPUT.format(value=value)), False))
            values[key] = (index, item["id"], value)
        stored = self._existing(kind, set(values), column, fold)
        for key, holder in stored.items():
            index, item_id, value = values[key]
            # A holder that is itself in the input with another value is moving away: fine.
            if holder != item_id and holder not in self.seen[kind]:
                findings.append(((index, item_id, field, _IN_REGISTER.format(value=value)), True))
        return findings

    def _check_references(self, kind: str, items: list[tuple[int, dict]]) -> list[Finding]:
        wanted: dict[str, set[str]] = {}
        for _, item in items:
            for _, target, target_id in _targets(kind, item):
                if target_id not in self.seen[target]:
                    wanted.setdefault(target, set()).add(target_id)
        missing = {target: ids - set(self._existing(target, ids)) for target, ids in wanted.items()}
        if not any(missing.values()):
            return []  # the usual case: no field paths to spell out (a large import has 300,000 references)
        findings: list[Finding] = []
        for index, item in items:
            for path, target, target_id in _references(kind, item):
                if target_id in missing.get(target, ()):
                    message = f"{KIND_SWEDISH[target]} {target_id} finns inte i registret"
                    findings.append(((index, item["id"], path, message), False))
        return findings
