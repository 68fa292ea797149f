"""Demo data: a realistic, deterministic municipality with a few broken records."""

from __future__ import annotations

import io
import json

from sqlalchemy import func
from sqlmodel import select

from dnp.common.civic import civic_number_kind
from dnp.demo.generator import DemoMunicipality
from dnp.demo.register import write_demo_file
from dnp.register import schemas
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import Person
from dnp.register.models import skolverket_id


def test_demo_data_loads_once_and_is_deterministic(runner, db):
    result = runner.invoke(args=["dnp", "demo-data", "--seed", "7"])
    assert result.exit_code == 0, result.output
    units = db.exec(select(Organisation).where(Organisation.organisation_type == "Skolenhet")).all()
    assert len(units) == 6
    assert {tuple(unit.school_types) for unit in units} == {("GR",), ("GY",)}
    assert all(unit.id == skolverket_id(unit.school_unit_code) for unit in units)
    persons = db.exec(select(Person)).all()
    assert 3000 <= len(persons) <= 4000
    protected = [p for p in persons if p.security_marking != "Ingen"]
    assert protected and all(p.alias_given_name and p.alias_family_name for p in protected)
    kinds = {civic_number_kind(p.civic_no) for p in persons}
    assert {"personnummer", "samordningsnummer", "tillfälligt"} <= kinds
    assert any(p.eppn is None for p in persons)
    assert db.exec(select(func.count()).where(Enrolment.school_year.is_(None))).one() >= 1
    again = runner.invoke(args=["dnp", "demo-data", "--seed", "7", "--if-empty"])
    assert "redan data" in again.output
    rerun = runner.invoke(args=["dnp", "demo-data", "--seed", "7"])
    assert '"created": {"organisations": 0, "persons": 0' in rerun.output


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = DemoMunicipality(3), DemoMunicipality(3), DemoMunicipality(4)
    assert a.organisations() == b.organisations()
    assert a.unit(1).persons == b.unit(1).persons
    assert a.unit(1).persons != c.unit(1).persons


def test_generated_items_pass_the_ingest_schemas():
    municipality = DemoMunicipality(1)
    unit = municipality.unit(municipality.scale.grundskolor)  # a gymnasium
    for kind, items in (("persons", unit.persons), ("duties", unit.duties), ("groups", unit.groups)):
        assert all(schemas.is_valid(kind, item) for item in items), kind
    staff = [p for p in unit.persons if p["emails"][0]["type"] == "Skola personal"]
    assert len(staff) == municipality.scale.staff_per_unit


def test_demo_file_is_a_valid_import(runner, db, tmp_path):
    buffer = io.StringIO()
    count = write_demo_file(buffer, 2, "small")
    body = json.loads(buffer.getvalue())
    assert len(body["persons"]) == count
    path = tmp_path / "demo.json"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    result = runner.invoke(args=["dnp", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert db.exec(select(func.count()).select_from(Person)).one() == count
