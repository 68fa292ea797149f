"""Push under trouble: 413, 429 storms, 503s and hangs, TemporaryError, a refused token; and the CLI."""

from __future__ import annotations

import json
import time
from collections import Counter

from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.delivery.push.client import TOKEN_KEY
from dnp.delivery.push.client import SharedRateLimit
from dnp.delivery.push.models import PushAnswer


def _all_persons(env) -> set[str]:
    world = env.world
    return {p["id"] for p in world.pupils_a} | {world.shared["id"], world.teacher["id"]}


def _accepted_ids(api, resource: str) -> Counter:
    return Counter(entity_id for call in api.writes(resource) for entity_id in call.ids)


def test_a_413_splits_the_call_until_it_fits_and_nothing_is_lost_or_sent_twice(push_env):
    env, api = push_env, push_env.api
    api.max_bytes = 900  # about two persons: Skolverket's limit is lower than ours
    env.switch_to_push()
    env.settle()
    assert any(call.status == 413 for call in api.calls)
    assert set(api.stored("persons")) == _all_persons(env)
    accepted = _accepted_ids(api, "persons")
    assert set(accepted) == _all_persons(env) and max(accepted.values()) == 1
    assert all(call.size <= 900 for call in api.writes())
    assert len(api.stored("activities")) == 1


def test_batches_are_cut_by_measured_size_so_no_413_is_needed(push_env):
    env, api = push_env, push_env.api
    env.app.config["PROVISIONING_MAX_BYTES"] = 900
    api.max_bytes = 900
    env.switch_to_push()
    env.settle()
    assert not any(call.status == 413 for call in api.calls)
    assert len(api.writes("persons")) >= 3
    assert set(api.stored("persons")) == _all_persons(env)


def test_an_object_too_large_on_its_own_is_refused_and_shown(push_env):
    env, api = push_env, push_env.api
    api.max_bytes = 150  # smaller than any person
    env.switch_to_push()
    env.settle()
    persons = env.objects("Person")
    assert {o.status for o in persons.values()} == {"Error"}
    assert all(o.log_entries[0]["id"] == "5020" for o in persons.values())
    assert api.stored("persons") == {}
    (duty,) = env.objects("Duty").values()
    assert duty.dirty and duty.status == "" and duty.batch_id is None  # waits for its Person
    assert api.writes() == []


def test_a_429_storm_is_waited_out_with_nothing_lost_or_duplicated(push_env):
    env, api = push_env, push_env.api
    api.script = [429] * 6  # the next six calls are refused whatever the rate
    api.script_paths = ("/",)
    api.rate = 2  # and Skolverket is stricter than our 5/s
    env.switch_to_push()
    env.settle()
    assert sum(call.status == 429 for call in api.calls) >= 6
    accepted = _accepted_ids(api, "persons")
    assert set(accepted) == _all_persons(env) and max(accepted.values()) == 1
    assert len(api.stored("activities")) == 1
    assert int(env.redis.get("dnp:push:rate-waits")) >= 6


def test_503_and_a_hanging_call_are_retried_with_back_off(push_env):
    env, api = push_env, push_env.api
    env.app.config["PROVISIONING_TIMEOUT"] = 0.5
    api.script = [503, "hang", 503]
    env.switch_to_push()
    env.settle()
    assert set(api.stored("persons")) == _all_persons(env)
    (first, *_) = env.batches()
    assert first.attempts == 3 and first.status == "done"
    assert len(api.stored("activities")) == 1


def test_a_temporary_error_is_retried_and_the_group_is_sent_again_with_the_pupil(push_env):
    env, api = push_env, push_env.api
    pupil = env.world.pupils_a[0]["id"]
    api.temporary_errors[pupil] = 1
    env.switch_to_push()
    env.settle()
    with env.session() as session:
        history = session.exec(
            select(PushAnswer.status).where(PushAnswer.entity_id == pupil).order_by(PushAnswer.id)
        ).all()
    assert history == ["TemporaryError", "Success"]
    (group,) = api.stored("groups").values()
    assert pupil in {m["person"]["id"] for m in group["groupMemberships"]}
    assert not env.objects("Group")[next(iter(api.stored("groups")))].incomplete


def test_a_job_left_pending_past_the_limit_is_given_up_and_its_objects_sent_again(push_env):
    env, api = push_env, push_env.api
    api.delay = 5.0  # Skolverket's job stays Pending far past our limit (30 min, scaled: 0.18 s)
    env.switch_to_push()
    env.step()  # persons sent, the job is Pending
    assert len(api.writes("persons")) == 1
    time.sleep(0.25)
    env.step()  # polled past the limit: given up, persons marked to be sent again
    (first, *_) = env.batches()
    assert first.status == "abandoned"
    assert all(o.dirty and o.batch_id is None for o in env.objects("Person").values())
    api.delay = 0.0
    env.settle()
    assert len(api.stored("activities")) == 1
    assert set(_accepted_ids(api, "persons")) == _all_persons(env)


def test_a_refused_token_is_dropped_and_fetched_again_once(push_env):
    env, api = push_env, push_env.api
    stale = env.auth.issue(
        requested_access=[{"type": "provisioning-api", "locations": [api.url]}], lifetime=-10
    )
    env.redis.set(TOKEN_KEY, stale, ex=600)  # a shared token that has expired at Skolverket
    env.switch_to_push()
    env.settle()
    assert api.refused_tokens == 1
    assert env.auth.count("/transaction") == 1
    assert set(api.stored("persons")) == _all_persons(env)


def test_the_shared_rate_limit_holds_across_limiters(redis_url):
    first, second = SharedRateLimit(redis_url, 5), SharedRateLimit(redis_url, 5)
    first.reset()
    moments = []
    for number in range(12):
        (first if number % 2 else second).wait()
        moments.append(time.monotonic())
    for index in range(len(moments) - 5):
        assert moments[index + 5] - moments[index] >= 0.95  # never six calls within one second


def test_cli_transfer_method_and_push_status_and_resend(push_env, runner):
    env = push_env
    result = runner.invoke(args=["dnp", "transfer-method", "push"])
    assert result.exit_code == 0, result.output
    assert "Provisioning API" in result.output
    with env.session() as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.entity_id == "transfer_method")).one()
        assert event.actor.startswith("cli:transfer-method:") and event.after == {"value": "push"}
    status = json.loads(runner.invoke(args=["dnp", "push", "status"]).output.splitlines()[0])
    assert status["method"] == "push" and status["waiting"]["Person"] == 5
    env.settle()
    assert len(env.objects()) == 8 and not any(o.dirty for o in env.objects().values())
    before = len(env.api.writes())
    result = runner.invoke(args=["dnp", "push", "resend", "--all"])
    assert result.exit_code == 0 and "skickas igen" in result.output, result.output
    assert all(o.dirty for o in env.objects().values())
    env.settle()
    assert sorted(c.path for c in env.api.writes()[before:]) == sorted(
        f"{r}/bulk" for r in ("persons", "duties", "groups", "activities")
    )
    assert runner.invoke(args=["dnp", "push", "resend"]).exit_code != 0
