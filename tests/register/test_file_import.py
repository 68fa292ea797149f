"""File import: same validation as the API, streamed, idempotent, all or nothing."""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlalchemy import text
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.db import refresh_statistics
from dnp.register.models import Person
from dnp.register.models import RegisterGroupMembership
from tests import factories


def _file(tmp_path, body, name="register.json"):
    path = tmp_path / name
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def _register(size=3):
    unit = factories.organisation()
    pupils = [factories.person(unit["id"]) for _ in range(size)]
    teacher = factories.person(None, emails=[{"value": "t@example.se", "type": "Skola personal"}])
    return {
        # Keys in an unusual order: the import still goes organisations → groups.
        "groups": [factories.group(unit["id"], [p["id"] for p in pupils])],
        "duties": [factories.duty(teacher["id"], unit["id"])],
        "persons": pupils + [teacher],
        "organisations": [unit],
    }


def test_import_twice_changes_nothing_the_second_time(runner, db, tmp_path):
    path = _file(tmp_path, _register())
    first = runner.invoke(args=["dnp", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert '"persons": 4' in first.output
    audits = db.exec(select(func.count()).select_from(AuditEvent)).one()
    modified = {p.id: p.modified for p in db.exec(select(Person)).all()}
    second = runner.invoke(args=["dnp", "import", str(path)])
    assert second.exit_code == 0, second.output
    assert '"unchanged": {"organisations": 1, "persons": 4, "duties": 1, "groups": 1}' in second.output
    db.expire_all()
    assert {p.id: p.modified for p in db.exec(select(Person)).all()} == modified
    assert db.exec(select(func.count()).select_from(AuditEvent)).one() == audits
    assert db.exec(select(func.count()).select_from(RegisterGroupMembership)).one() == 3


def test_problems_in_a_later_batch_roll_back_everything(runner, db, tmp_path, monkeypatch):
    monkeypatch.setattr("dnp.register.file_import.BATCH", 2)
    body = _register(size=7)
    body["persons"][5]["civicNo"] = {"value": "12345"}
    body["duties"][0]["dutyRole"] = "Trollkarl"
    result = runner.invoke(args=["dnp", "import", str(_file(tmp_path, body))])
    assert result.exit_code == 1
    assert "Inget importerades: 2 problem" in result.output
    assert "persons[5]" in result.output
    assert "civicNo.value" in result.output
    assert "dutyRole" in result.output
    assert db.exec(select(func.count()).select_from(Person)).one() == 0


def test_malformed_and_unknown_files_are_refused(runner, db, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"persons": [{"id": ', encoding="utf-8")
    result = runner.invoke(args=["dnp", "import", str(broken)])
    assert result.exit_code == 1
    assert "felaktig JSON" in result.output
    result = runner.invoke(args=["dnp", "import", str(_file(tmp_path, {"pupils": []}, "x.json"))])
    assert result.exit_code == 1
    assert "okända: ['pupils']" in result.output
    assert db.exec(select(func.count()).select_from(Person)).one() == 0


def planner_rows(engine, table: str) -> float | None:
    """How many rows the query planner believes ``table`` holds (None: it has no statistics)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            rows = connection.execute(text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table})
            value = rows.scalar()
            return None if value is None or value < 0 else value
        stat = connection.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = :t"), {"t": table}).first()
        return None if stat is None else float(stat[0].split()[0])


def test_import_leaves_the_planner_fresh_statistics(runner, app, tmp_path):
    engine = app.extensions["dnp.engine"]
    refresh_statistics(engine)  # the empty register
    assert planner_rows(engine, "person") in (None, 0)
    result = runner.invoke(args=["dnp", "import", str(_file(tmp_path, _register(size=6)))])
    assert result.exit_code == 0, result.output
    assert planner_rows(engine, "person") == 7  # six pupils and the teacher, without waiting for autovacuum


def test_identifiers_with_newlines_or_full_width_digits_are_refused(runner, db, tmp_path):
    body = _register(size=2)
    body["persons"][0]["civicNo"] = {"value": "201106060112\n"}
    body["persons"][1]["civicNo"] = {"value": "".join(chr(0xFF10 + int(d)) for d in "201106060112")}
    result = runner.invoke(args=["dnp", "import", str(_file(tmp_path, body))])
    assert result.exit_code == 1
    assert "persons[0]" in result.output and "kontrolltecken" in result.output
    assert "persons[1]" in result.output and "ogiltigt personnummer" in result.output
    assert db.exec(select(func.count()).select_from(Person)).one() == 0
