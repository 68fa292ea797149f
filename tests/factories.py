"""Builders for ingest bodies in Skolverket's shapes."""

from __future__ import annotations

import itertools
import uuid
from datetime import date

from dnp.common.civic import make_civic_number
from dnp.register.models import skolverket_id

_counter = itertools.count(1)


def organisation(code: str | None = None, **overrides) -> dict:
    """A school unit whose id is Skolverket's id for its code."""
    code = code or f"{10_000_000 + next(_counter):08d}"
    return {"id": skolverket_id(code), "schoolUnitCode": code, "displayName": f"Skola {code}", **overrides}


def person(unit_id: str | None = None, **overrides) -> dict:
    """A pupil in year 9 (when a unit is given) with a valid civic number and EPPN."""
    n = next(_counter)
    person_id = str(uuid.uuid4())
    item = {
        "id": person_id,
        "givenName": "Test",
        "familyName": f"Person{n}",
        "eduPersonPrincipalNames": [f"u{person_id[:8]}@elev.example.se"],
        "civicNo": {"value": make_civic_number(date(2011, 5, 1 + n % 28), n % 1000), "nationality": "SE"},
        "emails": [{"value": f"u{person_id[:8]}@elev.example.se", "type": "Skola elev"}],
        "securityMarking": "Ingen",
    }
    if unit_id:
        item["enrolments"] = [{"enroledAt": {"id": unit_id}, "schoolType": "GR", "schoolYear": 9}]
    item.update(overrides)
    return item


def duty(person_id: str, unit_id: str, **overrides) -> dict:
    """A teacher's duty."""
    return {
        "id": str(uuid.uuid4()),
        "person": {"id": person_id},
        "dutyAt": {"id": unit_id},
        "dutyRole": "Lärare",
        **overrides,
    }


def group(unit_id: str, member_ids: list[str], **overrides) -> dict:
    """A class with the given members."""
    return {
        "id": str(uuid.uuid4()),
        "displayName": "9A",
        "groupType": "Klass",
        "schoolType": "GR",
        "organisation": {"id": unit_id},
        "groupMemberships": [{"person": {"id": person_id}} for person_id in member_ids],
        **overrides,
    }
