"""Each group's stored validation summary stays equal to validating it now, whatever changed."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import event
from sqlmodel import select

from dnp.groups import changes
from dnp.groups.catalog import demo_activities
from dnp.groups.catalog import store_activities
from dnp.groups.checks import check_unchecked_groups
from dnp.groups.checks import refresh_due
from dnp.groups.checks import stored_checks
from dnp.groups.checks import summary
from dnp.groups.checks import take_checked
from dnp.groups.facts import facts_for_groups
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupCheck
from dnp.groups.models import TestGroupCheckDue
from dnp.groups.overview import unit_overview
from dnp.register.models import Duty
from tests import factories
from tests.groups.test_changes import ADMIN
from tests.groups.test_changes import create
from tests.groups_fixtures import MA9
from tests.helpers import csrf_token
from tests.helpers import grant
from tests.helpers import login
from tests.helpers import send


def stored(db, group) -> dict[str, int]:
    """The stored summary, checked against validating the group from scratch."""
    db.expire_all()
    group = db.get(TestGroup, group.id)
    found = stored_checks([group.id], session=db)[group.id]
    assert found == summary(facts_for_groups([group], session=db)[group.id])
    return found


def settled(db, group) -> dict[str, int]:
    """After a register write: the overview already shows the current counts (the group is marked due and
    validated live), and the sweep's rewrite stores them and removes the marks."""
    db.expire_all()
    group = db.get(TestGroup, group.id)
    fresh = summary(facts_for_groups([group], session=db)[group.id])
    assert stored_checks([group.id], session=db) == {}  # due: not read from the stored row
    [occasion] = unit_overview(group.school_unit_id, session=db)
    [shown] = [g for g in occasion.groups if g.group.id == group.id]
    assert {key: getattr(shown, key) for key in fresh} == fresh
    assert refresh_due(session=db) == 1
    db.commit()
    assert db.exec(select(TestGroupCheckDue)).all() == []
    return stored(db, group)


def test_group_changes_keep_the_summary(db, world):
    group = create(db, world)
    assert stored(db, group) == {"pupils": 6, "staff": 0, "errors": 0, "warnings": 1}  # no staff yet
    changes.add_staff(ADMIN, group, world.teacher["id"], session=db)
    db.commit()
    assert stored(db, group) == {"pupils": 6, "staff": 1, "errors": 0, "warnings": 0}
    changes.remove_member(ADMIN, group, world.shared["id"], "pupil", session=db)
    db.commit()
    assert stored(db, group)["pupils"] == 5
    changes.rename(ADMIN, group, "Matte 9", session=db)
    changes.mark_ready(ADMIN, group, session=db)
    db.commit()
    assert stored(db, group) == {"pupils": 5, "staff": 1, "errors": 0, "warnings": 0}
    changes.withdraw(ADMIN, group, session=db)
    changes.delete_draft(ADMIN, group, session=db)
    db.commit()
    assert db.exec(select(TestGroupCheck)).all() == []


def test_register_writes_keep_the_summary(db, world, client):
    group = create(db, world)
    changes.add_staff(ADMIN, group, world.teacher["id"], session=db)
    db.commit()
    civic = world.pupils_a[0]["civicNo"]["value"].replace("-", "")
    civic_eppn = {**world.pupils_a[0], "eduPersonPrincipalNames": [f"e{civic}@elev.example.se"]}
    year_8 = copy.deepcopy(world.pupils_a[1])
    year_8["enrolments"][0]["schoolYear"] = 8
    response = send(client, "PUT", "persons", [civic_eppn, year_8])
    assert response.status_code == 201, response.get_json()
    assert settled(db, group) == {"pupils": 6, "staff": 1, "errors": 1, "warnings": 1}
    send(client, "PUT", "persons", [world.pupils_a[0], world.pupils_a[1]])
    assert settled(db, group) == {"pupils": 6, "staff": 1, "errors": 0, "warnings": 0}
    teacher = {**world.teacher, "emails": []}
    send(client, "PUT", "persons", [teacher])
    assert settled(db, group)["errors"] == 1  # staff without e-mail


def test_class_following_and_register_deletes_keep_the_summary(db, world, client):
    group = create(db, world)
    changes.add_staff(ADMIN, group, world.teacher["id"], session=db)
    db.commit()
    newcomer = factories.person(world.unit["id"])
    send(client, "PUT", "persons", [newcomer])
    members = [p["id"] for p in world.pupils_a] + [world.shared["id"], newcomer["id"]]
    send(
        client,
        "PUT",
        "groups",
        [{**world.class_a, "groupMemberships": [{"person": {"id": m}} for m in members]}],
    )
    assert settled(db, group)["pupils"] == 7
    assert send(client, "DELETE", "persons", [{"id": newcomer["id"]}]).status_code == 202
    assert settled(db, group)["pupils"] == 6
    duty_id = db.exec(select(Duty.id).where(Duty.person_id == world.teacher["id"])).one()
    assert send(client, "DELETE", "duties", [{"id": duty_id}]).status_code == 202
    assert settled(db, group) == {"pupils": 6, "staff": 1, "errors": 1, "warnings": 0}  # no duty at the unit
    assert send(client, "DELETE", "groups", [{"id": world.class_b["id"]}]).status_code == 202
    assert settled(db, group)["pupils"] == 4


def test_a_catalog_change_of_the_tests_year_keeps_the_summary(db, world):
    group = create(db, world)
    changes.add_staff(ADMIN, group, world.teacher["id"], session=db)
    db.commit()
    catalog = demo_activities()
    for activity in catalog:
        if activity["id"] == MA9:
            activity["school_year"] = 6
    store_activities(catalog, "demo", session=db)
    db.commit()
    assert settled(db, group) == {"pupils": 6, "staff": 1, "errors": 0, "warnings": 6}  # year 9, test for 6


def test_groups_from_before_the_table_are_validated_when_shown_and_checked_by_migrate(db, world, runner):
    group = create(db, world)
    expected = stored(db, group)
    assert len(db.exec(select(TestGroupCheck)).all()) == 1
    db.execute(TestGroupCheck.__table__.delete())
    db.commit()
    [occasion] = unit_overview(world.unit["id"], session=db)
    assert (occasion.groups[0].pupils, occasion.groups[0].warnings) == (6, 1)
    assert db.exec(select(TestGroupCheck)).all() == []  # a view writes nothing
    assert check_unchecked_groups(session=db) == 1
    db.commit()
    assert stored(db, group) == expected
    assert check_unchecked_groups(session=db) == 0


def test_the_editor_reuses_what_the_change_found_only_while_nothing_changed(db, world):
    group = create(db, world)
    changes.add_staff(ADMIN, group, world.teacher["id"], session=db)
    db.commit()  # a commit with nothing left to flush keeps it: the editor re-renders right after
    members, issues = take_checked(group.id, session=db)
    assert len(members) == 7 and not [issue for issue in issues if issue.blocking]
    assert take_checked(group.id, session=db) is None  # taken once
    changes.remove_member(ADMIN, group, world.shared["id"], "pupil", session=db)
    group.display_name = "Ändrad igen"  # a later change: flushed, so what was found is stale
    db.flush()
    assert take_checked(group.id, session=db) is None
    changes.add_pupil(ADMIN, group, world.shared["id"], session=db)
    db.rollback()
    assert take_checked(group.id, session=db) is None


@pytest.fixture
def admin(app, client, world):
    grant(app, ADMIN, "unit_admin", [world.unit["id"]])
    login(client, app, ADMIN)
    return client


def test_staff_added_in_the_editor_is_loaded_and_validated_once(admin, world, db, app):
    group = create(db, world)
    headers = {"X-CSRFToken": csrf_token(admin), "HX-Request": "true"}
    reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if (
            statement.lstrip().upper().startswith("SELECT")
            and "FROM test_group_member JOIN person" in statement
        ):
            reads.append(statement)

    engine = app.extensions["dnp.engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = admin.post(
            f"/provgrupper/{group.id}/personal", data={"person_id": world.teacher["id"]}, headers=headers
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    teacher = f"{world.teacher['givenName']} {world.teacher['familyName']}"
    assert answer.status_code == 200 and teacher in answer.get_data(as_text=True)
    assert len(reads) == 1, reads
    assert stored(db, group)["staff"] == 1
