"""Loading the demo municipality into the register, plus a few deliberately broken records."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TextIO

from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlmodel import Session

from dnp.audit import trail
from dnp.demo.generator import DOMAIN
from dnp.demo.generator import DemoMunicipality
from dnp.demo.groups import create_demo_groups
from dnp.demo.users import grant_demo_roles
from dnp.register.ingest import RegisterIngest
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import Person
from dnp.register.models import RegisterGroupMembership
from dnp.register.models import skolverket_id
from dnp.register.results import IngestSummary
from dnp.register.rows import enrolment_rows
from dnp.register.rows import person_row
from dnp.types import utcnow

Progress = Callable[[int, int], None]


def register_is_empty(*, session: Session) -> bool:
    """True when no organisation has been stored yet."""
    return session.exec(select(func.count()).select_from(Organisation)).one()[0] == 0


def load_demo(
    seed: int, scale: str, actor: str, progress: Progress | None = None, *, session: Session
) -> IngestSummary:
    """Validate and upsert the demo municipality, then add the broken records; caller commits."""
    municipality = DemoMunicipality(seed, scale)
    ingest = RegisterIngest(actor, "upsert", session=session)
    ingest.add_batch("organisations", municipality.organisations())
    offsets = dict.fromkeys(("persons", "duties", "groups"), 0)
    # Persons of every unit first, so that groups can refer to them.
    for phase in ("persons", "duties", "groups"):
        for index, unit in enumerate(municipality.units()):
            items = getattr(unit, phase)
            ingest.add_batch(phase, items, offsets[phase])
            offsets[phase] += len(items)
            if progress:
                progress(
                    index + 1 + municipality.unit_count * ("persons", "duties", "groups").index(phase),
                    municipality.unit_count * 3,
                )
    summary = ingest.finish()
    _add_broken_records(municipality, actor, session=session)
    grant_demo_roles(actor, session=session)
    create_demo_groups(session=session)
    return summary


def broken_records(municipality: DemoMunicipality) -> list[dict]:
    """Pupils that Skolverket would reject, for the validation panel to show."""
    unit_id = skolverket_id(municipality.unit_codes[0])
    base = {
        "civicNo": {"value": "201101012399", "nationality": "SE"},
        "securityMarking": "Ingen",
        "emails": [],
    }
    return [
        {
            **base,
            "id": municipality._id("broken", "no-eppn"),
            "givenName": "Nils",
            "familyName": "Utaneppn",
            "eduPersonPrincipalNames": [],
            "enrolments": [{"enroledAt": {"id": unit_id}, "schoolType": "GR", "schoolYear": 9}],
        },
        {
            **base,
            "id": municipality._id("broken", "no-year"),
            "givenName": "Greta",
            "familyName": "Utanårskurs",
            "civicNo": {"value": "201102022397", "nationality": "SE"},
            "eduPersonPrincipalNames": [f"greta.utanarskurs@elev.{DOMAIN}"],
            "enrolments": [{"enroledAt": {"id": unit_id}, "schoolType": "GR", "schoolYear": None}],
        },
    ]


def _add_broken_records(municipality: DemoMunicipality, actor: str, *, session: Session) -> None:
    connection = session.connection()
    class_id = municipality._id("class", 0, "9A")
    broken = broken_records(municipality)
    ids = [item["id"] for item in broken]
    stored = set(
        connection.execute(select(Person.__table__.c.id).where(Person.__table__.c.id.in_(ids))).scalars()
    )
    now = utcnow()
    for item in broken:
        if item["id"] in stored:
            continue
        row = person_row(item)
        row["source_hash"] = "demo-broken"
        connection.execute(insert(Person.__table__), [{**row, "created": now, "modified": now}])
        connection.execute(insert(Enrolment.__table__), enrolment_rows(item))
        connection.execute(
            insert(RegisterGroupMembership.__table__), [{"group_id": class_id, "person_id": item["id"]}]
        )
        trail.record(actor, "register.created", "Person", item["id"], session=session)


def write_demo_file(stream: TextIO, seed: int, scale: str) -> int:
    """Write the (valid part of the) municipality as one import file; return the person count."""
    municipality = DemoMunicipality(seed, scale)
    stream.write('{"organisations": ')
    json.dump(municipality.organisations(), stream, ensure_ascii=False)
    count = 0
    for phase in ("persons", "duties", "groups"):
        stream.write(f', "{phase}": [')
        first = True
        for unit in municipality.units():
            for item in getattr(unit, phase):
                stream.write("" if first else ",")
                stream.write(json.dumps(item, ensure_ascii=False))
                first = False
                count += phase == "persons"
        stream.write("]")
    stream.write("}")
    return count
