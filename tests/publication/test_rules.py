"""The rules of the publication, seen through the API: only what is ready, truthful meta, deletions."""

from __future__ import annotations

import time
from datetime import UTC
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session

from dnp.publication import store
from dnp.publication.publisher import activity_id_for
from dnp.register.models import skolverket_id
from tests import factories
from tests.helpers import send
from tests.ss12000.helpers import change_group
from tests.ss12000.helpers import make_group
from tests.ss12000.helpers import outbox_count
from tests.ss12000.helpers import snapshot


def ids(items: list[dict]) -> set[str]:
    return {item["id"] for item in items}


def everything(api) -> dict[str, set[str]]:
    return {
        kind: ids(api.all(kind)) for kind in ("organisations", "persons", "groups", "duties", "activities")
    }


def test_drafts_never_appear_ready_does_and_withdrawn_leaves(app, api, world):
    unit = world.unit["id"]
    group_id = make_group(app, unit, [world.class_a["id"]], staff=[world.teacher["id"]], ready=False)
    assert everything(api) == dict.fromkeys(everything(api), set())

    change_group(app, group_id, "mark_ready")
    published = everything(api)
    pupils = {p["id"] for p in world.pupils_a} | {world.shared["id"]}
    assert published["groups"] == {group_id}
    assert published["activities"] == {activity_id_for(group_id)}
    assert published["persons"] == pupils | {world.teacher["id"]}
    assert published["organisations"] == {skolverket_id(world.unit["schoolUnitCode"])}
    assert len(published["duties"]) == 1
    activity = api.get(f"/activities/{activity_id_for(group_id)}")
    assert activity["parentActivity"]["id"] == skolverket_id("MA åk 9")
    assert activity["teachers"] == [{"duty": {"id": next(iter(published["duties"]))}}]
    group = api.get(f"/groups/{group_id}")
    assert {m["person"]["id"] for m in group["groupMemberships"]} == pupils

    change_group(app, group_id, "withdraw")
    assert everything(api) == dict.fromkeys(published, set())
    deleted = api.get("/deletedEntities")["data"]
    assert set(deleted["groups"]) == {group_id}
    assert set(deleted["activities"]) == set(deleted["activitites"]) == {activity_id_for(group_id)}
    assert set(deleted["persons"]) == published["persons"]
    assert set(deleted["duties"]) == published["duties"]
    assert set(deleted["organisations"]) == published["organisations"]


def test_pupil_leaving_her_last_ready_group_is_deleted(app, api, world):
    unit, shared = world.unit["id"], world.shared["id"]
    group_a = make_group(app, unit, [world.class_a["id"]], name="A")
    group_b = make_group(app, unit, [world.class_b["id"]], name="B")
    leaver = world.pupils_a[0]["id"]

    change_group(app, group_a, "remove_member", leaver, "pupil")
    change_group(app, group_a, "remove_member", shared, "pupil")  # still in group B
    persons = ids(api.all("persons"))
    assert leaver not in persons and shared in persons
    assert api.get("/deletedEntities")["data"]["persons"] == [leaver]
    assert api.call("GET", f"/persons/{leaver}").status_code == 404
    assert shared not in {m["person"]["id"] for m in api.get(f"/groups/{group_a}")["groupMemberships"]}
    assert shared in {m["person"]["id"] for m in api.get(f"/groups/{group_b}")["groupMemberships"]}

    # Back in: the old deletion is withdrawn so a client does not remove her again.
    change_group(app, group_a, "add_pupil", leaver)
    assert leaver in ids(api.all("persons"))
    assert "persons" not in api.get("/deletedEntities")["data"]


def test_modified_after_returns_exactly_what_changed(app, api, world):
    unit = world.unit["id"]
    group_id = make_group(app, unit, [world.class_a["id"]], staff=[world.teacher["id"]])
    time.sleep(0.01)
    after = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    time.sleep(0.01)

    pupil = dict(world.pupils_a[1], givenName="Nyttnamn")
    assert send(api.client, "PUT", "persons", [pupil]).status_code == 201
    change_group(app, group_id, "rename", "MA åk 9 ny")

    assert ids(api.all("persons", **{"meta.modified.after": after})) == {pupil["id"]}
    assert ids(api.all("groups", **{"meta.modified.after": after})) == {group_id}
    assert ids(api.all("activities", **{"meta.modified.after": after})) == {activity_id_for(group_id)}
    assert ids(api.all("duties", **{"meta.modified.after": after})) == set()
    assert ids(api.all("organisations", **{"meta.modified.after": after})) == set()
    person = api.get(f"/persons/{pupil['id']}")
    assert person["givenName"] == "Nyttnamn"
    assert person["meta"]["modified"] > person["meta"]["created"]
    unchanged = api.get(f"/persons/{world.pupils_a[0]['id']}")
    assert unchanged["meta"]["modified"] == unchanged["meta"]["created"]


def test_unchanged_register_data_and_unpublished_persons_change_nothing(app, api, world):
    make_group(app, world.unit["id"], [world.class_a["id"]], staff=[world.teacher["id"]])
    before, rows = snapshot(app), outbox_count(app)
    everyone = world.pupils_a + world.pupils_b + [world.shared, world.teacher, world.other_pupil]
    assert send(api.client, "PUT", "persons", everyone).status_code == 201
    assert send(api.client, "PUT", "groups", [world.class_a, world.class_b]).status_code == 201
    assert snapshot(app) == before and outbox_count(app) == rows

    # A register change to someone Skolverket never got publishes nothing.
    stranger = dict(world.other_pupil, givenName="Annat")
    assert send(api.client, "PUT", "persons", [stranger]).status_code == 201
    assert snapshot(app) == before and outbox_count(app) == rows


def test_register_changes_republish_person_duty_and_unit(app, api, world):
    unit = world.unit["id"]
    group_id = make_group(app, unit, [world.class_a["id"]], staff=[world.teacher["id"]])
    teacher = world.teacher["id"]
    old_duty = api.get(f"/activities/{activity_id_for(group_id)}")["teachers"][0]["duty"]["id"]

    # A teacher's duty as "Lärare" is preferred; a new one replaces the old on the Activity.
    send(api.client, "PUT", "duties", [factories.duty(teacher, unit, id=old_duty, dutyRole="Förstelärare")])
    new_duty = factories.duty(teacher, unit, dutyRole="Lärare")
    send(api.client, "PUT", "duties", [new_duty])
    assert api.get(f"/activities/{activity_id_for(group_id)}")["teachers"] == [
        {"duty": {"id": new_duty["id"]}}
    ]
    assert ids(api.all("duties")) == {new_duty["id"]}
    assert old_duty in api.get("/deletedEntities", entities="Duty")["data"]["duties"]

    # Deleting that duty brings the remaining one back.
    assert send(api.client, "DELETE", "duties", [{"id": new_duty["id"]}]).status_code == 202
    assert ids(api.all("duties")) == {old_duty}

    # The school unit's name; and a person deleted from the register leaves.
    send(api.client, "PUT", "organisations", [dict(world.unit, displayName="Nya skolan")])
    assert api.all("organisations")[0]["displayName"] == "Nya skolan"
    leaver = world.pupils_a[2]["id"]
    assert send(api.client, "DELETE", "persons", [{"id": leaver}]).status_code == 202
    assert leaver not in ids(api.all("persons"))
    assert leaver in api.get("/deletedEntities", entities="Person")["data"]["persons"]
    assert leaver not in {m["person"]["id"] for m in api.get(f"/groups/{group_id}")["groupMemberships"]}


def test_restamping_moves_modified_without_announcing_a_change(app, api, world):
    from dnp.publication.store import restamp
    from dnp.types import utcnow
    from tests.ss12000.helpers import session_for

    group_id = make_group(app, world.unit["id"], [world.class_a["id"]])
    before, rows = api.get(f"/groups/{group_id}"), outbox_count(app)
    hashes = snapshot(app)
    with session_for(app) as session:
        assert restamp("Group", [group_id], utcnow(), session=session) == 1
    after = api.get(f"/groups/{group_id}")
    assert after["meta"]["modified"] > before["meta"]["modified"]
    assert after["meta"]["created"] == before["meta"]["created"]
    assert {k: v for k, v in after.items() if k != "meta"} == {k: v for k, v in before.items() if k != "meta"}
    assert snapshot(app)[("Group", group_id)][1] == hashes[("Group", group_id)][1]
    assert outbox_count(app) == rows


def test_rebuild_command_changes_nothing_that_is_right(app, api, world, runner):
    make_group(app, world.unit["id"], [world.class_a["id"]], staff=[world.teacher["id"]])
    before = snapshot(app)
    result = runner.invoke(args=["dnp", "publish", "--rebuild"])
    assert result.exit_code == 0 and '"unchanged": true' in result.output
    assert snapshot(app) == before


def test_a_large_first_publication_keeps_the_planner_informed(app, monkeypatch):
    monkeypatch.setattr(store, "ANALYZE_FROM", 3)
    engine = app.extensions["dnp.engine"]
    with Session(engine) as session:
        writer = store.Writer(datetime.now(UTC), session=session)
        people = [factories.person(None) for _ in range(7)]
        writer.apply("Person", {person["id"]: person for person in people})
        writer.apply("Person", {person["id"]: person for person in people[:2]})  # unchanged: no insert
        assert writer.counts["Person.created"] == 7 and writer.inserted == 7
        if engine.dialect.name == "postgresql":
            # Inside the still open transaction the planner already counts the 7 rows.
            reltuples = session.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = 'published_entity'")
            ).scalar()
            assert reltuples == 7 and writer._analyze_at == 14
        else:
            assert writer._analyze_at == 3  # SQLite plans by its indexes: nothing to refresh
        session.rollback()
