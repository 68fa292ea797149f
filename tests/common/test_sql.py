"""Bulk inserts straight to the driver (COPY, executemany) store what SQLAlchemy's INSERT stores."""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import CompileError
from sqlalchemy.exc import IntegrityError

from dnp.audit.models import AuditEvent
from dnp.common.sql import BULK_CACHE_KIB
from dnp.common.sql import DIRECT_FROM
from dnp.common.sql import among
from dnp.common.sql import bulk_cache
from dnp.common.sql import insert_rows
from dnp.register.ingest import is_write_race
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import Person

AUDIT = AuditEvent.__table__
MANY = DIRECT_FROM * 3


def _audit_rows(count: int, actor: str) -> list[dict]:
    stockholm = timezone(timedelta(hours=1))
    return [
        {
            "at": datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=stockholm),
            "actor": actor,
            "action": "register.created",
            "entity_type": "Person",
            "entity_id": f"id-{index}",
            # Python None in a JSON column is JSON null (as SQLAlchemy's INSERT stores it); text with a
            # tab, a quote, a backslash and a newline must survive COPY's escaping.
            "before": None,
            "after": {"name": "Åsa \"Ö\"\t\\n\n", "index": index, "tags": ["a", None]},
        }
        for index in range(count)
    ]


def _stored(db, actor: str) -> list[tuple]:
    rows = db.exec(
        select(AUDIT.c.at, AUDIT.c.action, AUDIT.c.entity_id, AUDIT.c.before, AUDIT.c.after)
        .where(AUDIT.c.actor == actor)
        .order_by(AUDIT.c.id)
    ).all()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("count", [3, MANY])
def test_rows_are_stored_as_sqlalchemys_insert_stores_them(db, count):
    db.connection().execute(insert(AUDIT), _audit_rows(count, "orm"))
    insert_rows(AUDIT, _audit_rows(count, "direct"), session=db)
    db.commit()
    direct, orm = _stored(db, "direct"), _stored(db, "orm")
    assert len(direct) == count
    assert direct == orm
    assert direct[0][0] == datetime(2026, 12, 1, 8, 30, 15, 123456, tzinfo=UTC)
    assert direct[-1][4]["name"] == "Åsa \"Ö\"\t\\n\n"
    # JSON null, not SQL NULL, on both paths (the same query finds the same rows).
    null_count = "SELECT count(*) FROM audit_event WHERE actor = :actor AND before IS NULL"
    assert db.connection().execute(text(null_count), {"actor": "direct"}).scalar() == (
        db.connection().execute(text(null_count), {"actor": "orm"}).scalar()
    )


def test_column_defaults_are_filled_in(db):
    unit = Organisation(id=str(uuid.uuid4()), display_name="Skolan", school_unit_code="12345678")
    db.add(unit)
    db.flush()
    people = _people(MANY)
    insert_rows(Person.__table__, people, session=db)
    enrolments = [
        {"person_id": person["id"], "school_unit_id": unit.id, "school_type": "GR"} for person in people
    ]
    insert_rows(Enrolment.__table__, enrolments, session=db)
    by_insert = _people(1)
    db.connection().execute(insert(Person.__table__), by_insert)
    db.commit()
    stored, expected = db.get(Person, people[-1]["id"]), db.get(Person, by_insert[0]["id"])
    assert stored.security_marking == expected.security_marking == "Ingen"
    assert stored.emails == expected.emails
    assert stored.created.tzinfo is not None
    assert abs(stored.created - expected.created) < timedelta(minutes=1)
    query = select(Enrolment.cancelled).where(Enrolment.person_id == people[0]["id"])
    cancelled = db.exec(query).scalar_one()
    assert cancelled is False


def _people(count: int) -> list[dict]:
    return [
        {"id": str(uuid.uuid4()), "given_name": f"Elev{i}", "family_name": "Test", "civic_no": ""}
        for i in range(count)
    ]


def test_a_duplicate_key_is_sqlalchemys_integrity_error(db):
    first = _people(MANY)
    insert_rows(Person.__table__, first, session=db)
    db.flush()
    clash = _people(MANY - 1) + [first[0]]
    with pytest.raises(IntegrityError) as caught:
        insert_rows(Person.__table__, clash, session=db)
    # What a parallel import of the same person causes: the request is run again.
    assert is_write_race(caught.value)
    db.rollback()


def test_among_finds_every_listed_value(db):
    rows = _audit_rows(MANY, "among")
    insert_rows(AUDIT, rows, session=db)
    db.flush()
    wanted = [f"id-{index}" for index in range(0, MANY, 2)] + ["not-there"]
    listed = among(AUDIT.c.entity_id, wanted, session=db)
    found = db.exec(select(AUDIT.c.entity_id).where(AUDIT.c.actor == "among", listed)).scalars().all()
    assert sorted(found) == sorted(wanted[:-1])


def test_a_bulk_write_has_a_larger_sqlite_cache_and_gives_it_back(db):
    connection = db.connection()
    if connection.dialect.name != "sqlite":
        with bulk_cache(session=db):  # nothing to change on PostgreSQL: only that it runs
            assert db.exec(select(AUDIT.c.id).limit(1)).all() == []
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    with bulk_cache(session=db):
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -BULK_CACHE_KIB
    assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == before


@pytest.mark.parametrize("count", [3, MANY])
def test_a_key_that_is_no_column_is_refused(db, count):
    rows = [{**row, "colour": "blå"} for row in _audit_rows(count, "unknown")]
    with pytest.raises(CompileError, match="colour"):
        insert_rows(AUDIT, rows, session=db)
    db.rollback()
