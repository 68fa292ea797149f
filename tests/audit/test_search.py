"""Searching the audit trail: filters combine, newest first, pages of PAGE_SIZE, days in Swedish time."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

from dnp.audit import trail
from dnp.audit.search import PAGE_SIZE
from dnp.audit.search import AuditFilter
from dnp.audit.search import known_values
from dnp.audit.search import search_audit


def _ids(rows) -> list[str]:
    return [row.entity_id for row in rows]


def test_pages_go_newest_first_and_count_every_match(db):
    for n in range(PAGE_SIZE + 3):
        trail.record("a@kommun.se", "access.granted", "RoleGrant", f"g{n}", session=db)
    db.commit()
    first, total = search_audit(AuditFilter(), session=db)
    assert total == PAGE_SIZE + 3 and len(first) == PAGE_SIZE
    assert first[0].entity_id == f"g{PAGE_SIZE + 2}"
    second, _ = search_audit(AuditFilter(page=2), session=db)
    assert _ids(second) == ["g2", "g1", "g0"]
    assert _ids(search_audit(AuditFilter(page=0), session=db)[0]) == _ids(first)  # page 0 is the first


def test_filters_combine_and_the_actor_matches_a_part_in_any_case(db):
    trail.record("anna@kommun.se", "access.granted", "RoleGrant", "g1", session=db)
    trail.record("anna@kommun.se", "access.revoked", "RoleGrant", "g1", session=db)
    trail.record("bo@kommun.se", "access.granted", "RoleGrant", "g2", session=db)
    trail.record("anna@kommun.se", "group.created", "TestGroup", "t1", session=db)
    db.commit()
    assert _ids(search_audit(AuditFilter(actor="ANNA@"), session=db)[0]) == ["t1", "g1", "g1"]
    wanted = AuditFilter(actor="anna", action="access.granted", entity_type="RoleGrant")
    assert search_audit(wanted, session=db)[1] == 1
    assert _ids(search_audit(AuditFilter(entity_id="g2"), session=db)[0]) == ["g2"]
    assert search_audit(AuditFilter(actor="nobody"), session=db) == ([], 0)
    assert known_values(session=db) == (
        ["access.granted", "access.revoked", "group.created"],
        ["RoleGrant", "TestGroup"],
    )


def test_days_are_swedish_days(db):
    # 23:30 UTC on 1 March is 00:30 on 2 March in Stockholm (winter time, UTC+1).
    trail.record_many(
        "a@kommun.se",
        "auth.login",
        "LoginSession",
        ["late"],
        at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
        session=db,
    )
    trail.record_many(
        "a@kommun.se",
        "auth.login",
        "LoginSession",
        ["early"],
        session=db,
        at=datetime(2026, 3, 1, 22, 30, tzinfo=UTC),
    )
    db.commit()
    assert _ids(search_audit(AuditFilter(since=date(2026, 3, 2)), session=db)[0]) == ["late"]
    assert _ids(search_audit(AuditFilter(until=date(2026, 3, 1)), session=db)[0]) == ["early"]
    both = AuditFilter(since=date(2026, 3, 1), until=date(2026, 3, 2))
    assert sorted(_ids(search_audit(both, session=db)[0])) == ["early", "late"]
