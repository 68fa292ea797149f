"""The push pipeline against the fake Provisioning API, jobs run in this process (both databases)."""

from __future__ import annotations

from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.delivery.push.method import PULL
from dnp.delivery.push.method import set_transfer_method
from dnp.delivery.push.method import transfer_method
from dnp.delivery.push.models import PushAnswer
from dnp.groups import changes
from tests.delivery.push.conftest import ADMIN


def _first_writes(api) -> list[str]:
    seen: list[str] = []
    for call in api.writes():
        resource = call.path.split("/")[0]
        if resource not in seen:
            seen.append(resource)
    return seen


def test_switching_to_push_sends_the_ready_group_in_order_and_stores_every_answer(push_env):
    env, api = push_env, push_env.api
    assert api.calls == []  # nothing is pushed while the method is pull
    env.step()
    assert api.calls == []
    env.switch_to_push()
    env.settle()
    pupils = [p["id"] for p in env.world.pupils_a] + [env.world.shared["id"]]
    assert set(api.stored("persons")) == {*pupils, env.world.teacher["id"]}
    assert len(api.stored("duties")) == 1
    (group,) = api.stored("groups").values()
    assert sorted(m["person"]["id"] for m in group["groupMemberships"]) == sorted(pupils)
    (activity,) = api.stored("activities").values()
    assert activity["teachers"] == [{"duty": {"id": next(iter(api.stored("duties")))}}]
    # Each type only after the previous one was answered (the fake refuses a Duty for an unknown Person).
    assert _first_writes(api) == ["persons", "duties", "groups", "activities"]
    objects = env.objects()
    assert len(objects) == 5 + 1 + 1 + 1
    assert {o.status for o in objects.values()} <= {"Success", "Warning"}
    assert all(o.remote and o.answered_at and not o.dirty for o in objects.values())
    with env.session() as session:
        assert len(session.exec(select(PushAnswer)).all()) == 8  # one answer per object and send
        event = session.exec(select(AuditEvent).where(AuditEvent.entity_id == "transfer_method")).one()
        assert (event.actor, event.before, event.after) == (ADMIN.eppn, {"value": "pull"}, {"value": "push"})
    # The token asked for provisioning-api at exactly the configured location.
    token = env.auth.requests[-1].body["access_token"][0]["access"][0]
    assert token == {"type": "provisioning-api", "locations": [api.url]}
    assert env.auth.count("/transaction") == 1  # reused by every job (shared in Redis)


def test_one_pupil_change_is_one_small_call_and_a_withdrawal_deletes_in_reverse_order(push_env):
    env, api = push_env, push_env.api
    env.switch_to_push()
    env.settle()
    before = len(api.writes())
    pupil = env.world.pupils_a[0]
    with env.session() as session:
        from dnp.register.models import Person

        person = session.get(Person, pupil["id"])
        person.given_name = "Ändrad"
        session.add(person)
        from dnp.publication.publisher import Publisher

        Publisher(session=session).refresh(person_ids=[person.id])
        session.commit()
    env.settle()
    new = api.writes()[before:]
    assert [(c.path, c.ids) for c in new] == [("persons/bulk", [pupil["id"]])]
    assert api.stored("persons")[pupil["id"]]["givenName"] == "Ändrad"
    before = len(api.writes())
    with env.session() as session:
        group = changes.visible_group(ADMIN, env.group_id, session=session)
        changes.withdraw(ADMIN.eppn, group, session=session)
        session.commit()
    env.settle()
    deletes = [c.path.split("/")[0] for c in api.writes()[before:]]
    assert deletes == ["activities", "groups", "duties", "persons"]
    assert all(c.path.endswith("/bulk/delete") for c in api.writes()[before:])
    for resource in ("persons", "duties", "groups", "activities"):
        assert api.stored(resource) == {}
    assert env.objects() == {}  # nothing left that Skolverket holds


def test_a_group_withdrawn_while_its_activity_is_in_flight_is_deleted_after_the_activity(push_env):
    env, api = push_env, push_env.api
    env.switch_to_push()
    for _ in range(20):  # up to the Activity's first call, sent but not yet answered
        env.step()
        if any(b.resource == "Activity" and b.status == "polling" for b in env.batches()):
            break
    else:
        raise AssertionError(f"the Activity was never sent: {env.batches()}")
    before = len(api.writes())
    with env.session() as session:
        changes.withdraw(ADMIN.eppn, env.group(), session=session)
        session.commit()
    env.settle()
    # The Group's delete waited for the Activity's upsert to be answered and the Activity deleted.
    assert [c.path for c in api.writes()[before:]] == [
        "activities/bulk/delete",
        "groups/bulk/delete",
        "duties/bulk/delete",
        "persons/bulk/delete",
    ]
    assert all(api.stored(r) == {} for r in ("persons", "duties", "groups", "activities"))


def test_a_large_full_sync_refreshes_the_planner_statistics_and_marks_everything_once(push_env, monkeypatch):
    from dnp.delivery.push import intake

    env = push_env
    monkeypatch.setattr(intake, "ANALYZE_ABOVE", 0)  # this small register counts as large
    env.switch_to_push()
    first = env.objects()
    assert len(first) == 8 and all(o.dirty for o in first.values())  # 5 persons, duty, group, activity
    with env.session() as session:
        from dnp.types import utcnow

        assert intake.full_sync(utcnow(), session=session) == 8  # marked again; no row inserted twice
        session.commit()
    assert env.objects().keys() == first.keys()


def test_a_refused_pupil_is_stored_with_skolverkets_message_and_blocks_nothing_else(push_env):
    env, api = push_env, push_env.api
    refused = env.world.pupils_a[1]["id"]
    api.refuse[refused] = ("3011", "civicNo.value", "Personnumret är ogiltigt.")
    env.switch_to_push()
    env.settle()
    objects = env.objects("Person")
    assert objects[refused].status == "Error"
    (entry,) = objects[refused].log_entries
    assert (entry["id"], entry["attributeName"], entry["message"]) == (
        "3011",
        "civicNo.value",
        "Personnumret är ogiltigt.",
    )
    assert not objects[refused].remote
    (group,) = api.stored("groups").values()
    members = {m["person"]["id"] for m in group["groupMemberships"]}
    assert refused not in members and len(members) == 3  # the group went, with every accepted member
    (group_state,) = env.objects("Group").values()
    assert group_state.left_out == [refused] and group_state.incomplete
    assert len(api.stored("activities")) == 1
    # Error is not retried by itself: more sweeps send nothing.
    before = len(api.writes())
    env.step()
    env.step()
    assert len(api.writes()) == before
    # Once accepted (a change, here a manual resend after Skolverket's fix), the group is sent again.
    api.refuse.clear()
    from dnp.delivery.push import ops

    with env.session() as session:
        assert ops.resend("admin@kommun.se", failed=True, session=session) == 1
        session.commit()
    env.settle()
    (group,) = api.stored("groups").values()
    assert refused in {m["person"]["id"] for m in group["groupMemberships"]}


def test_back_to_pull_stops_pushing(push_env):
    env, api = push_env, push_env.api
    env.switch_to_push()
    env.settle()
    with env.session() as session:
        set_transfer_method(ADMIN.eppn, PULL, session=session)
        session.commit()
        assert transfer_method(session=session) == PULL
    before = len(api.calls)
    with env.session() as session:
        group = changes.visible_group(ADMIN, env.group_id, session=session)
        changes.rename(ADMIN.eppn, group, "MA åk 9 ny", session=session)
        session.commit()
    env.step()
    env.step()
    assert len(api.calls) == before


def test_the_ss12000_api_refuses_with_a_clear_message_while_the_method_is_push(push_env, client):
    env = push_env
    headers = {"Authorization": f"Bearer {env.auth.issue()}"}
    env.app.config.update(SS12000_JWKS_URL=env.auth.jwks_url, SS12000_ISSUER=env.auth.issuer)
    from tests.fakes.auth_server import API_LOCATION

    env.app.config["SS12000_LOCATION"] = API_LOCATION
    assert client.get("/ss12000/groups", headers=headers).status_code == 200
    env.switch_to_push()
    response = client.get("/ss12000/groups", headers=headers)
    assert response.status_code == 403
    assert response.get_json()["code"] == "transfer_method_push"
    assert "push" in response.get_json()["message"]
    assert client.get("/ss12000/groups").status_code == 401  # no token: still refused as before
