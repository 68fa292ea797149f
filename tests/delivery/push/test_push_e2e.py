"""Push end to end: a forking RQ worker process, the sweeper loop, a private Redis, the fakes over TLS.

Slow (worker start, a lease running out), so ``make test`` runs them once, in the PostgreSQL pass.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.delivery.harness import PrivateRedis
from tests.delivery.harness import Sweeper
from tests.delivery.harness import WorkerProcess
from tests.delivery.harness import passes_through_our_code
from tests.delivery.push.conftest import push_settings
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def live(push_env, tmp_path):
    """The push env with a real worker process and the sweeper thread, on a Redis of its own."""
    env = push_env
    redis = PrivateRedis(tmp_path).start()
    cert = env.auth.make_client_cert(tmp_path / "cert", registered=True)
    settings = push_settings(env.auth, env.api, cert, redis.url)
    settings.update(PROVISIONING_TIMEOUT=1.0)
    env.app.config.update(settings)
    env.app.extensions.pop("dnp.redis", None)
    worker_env = {f"DNP_{key}": str(value) for key, value in settings.items()}
    worker_env.update(
        DNP_ENV="testing", DNP_DATABASE_URL=env.app.config["DATABASE_URL"], DNP_SECRET_KEY="test-secret"
    )
    log = tmp_path / "worker.log"
    worker = WorkerProcess(worker_env, redis.url, log, queues=("dnp-push",)).start()
    sweeper = Sweeper(env.app).start()
    state = {"worker": worker, "redis": redis}
    yield env, state, worker_env, log
    sweeper.stop()
    state["worker"].stop()
    env.api.release()
    redis.stop()
    # A traceback through our code is a bug, unless it is Redis going away under the worker (the outage
    # test stops it on purpose; RQ and the worker's main loop then log the ConnectionError they hit).
    for block in log.read_text(errors="replace").split("Traceback (most recent call last):")[1:]:
        assert not passes_through_our_code(block) or "redis.exceptions.ConnectionError" in block, block[:4000]


def _everything_stored(env) -> bool:
    return len(env.api.stored("activities")) == 1 and len(env.api.stored("persons")) == 5


def test_a_worker_killed_mid_call_loses_nothing_and_sends_nothing_twice(live):
    env, state, worker_env, log = live
    # Shorter than the pending limit (30 min at the test time scale: 0.18 s), or a job still Pending
    # when polled is given up and its objects sent again (a second accepted write, by design).
    env.api.delay = 0.1
    env.api.script = ["hang"]  # the first bulk call never gets an answer
    env.switch_to_push()
    wait_for(lambda: env.api.hung == 1, 30, message="the first call to hang")
    state["worker"].kill_hard()  # SIGKILL the worker and its work horse in the middle of the call
    state["worker"] = WorkerProcess(worker_env, "", log, queues=("dnp-push",)).start()
    wait_for(lambda: _everything_stored(env), 90, interval=0.2, message="everything pushed after the kill")
    accepted = Counter(i for call in env.api.writes("persons") for i in call.ids)
    assert max(accepted.values()) == 1 and len(accepted) == 5
    assert [c.path.split("/")[0] for c in env.api.writes()][-1] == "activities"
    (first, *_) = env.batches()
    assert first.claimed_by != "" and first.status == "done"


def test_a_change_to_one_pupil_reaches_skolverket_as_one_small_call(live):
    env, state, _worker_env, _log = live
    env.switch_to_push()
    wait_for(lambda: _everything_stored(env), 60, interval=0.2, message="the first full sync")
    before = len(env.api.writes())
    pupil = env.world.pupils_a[0]["id"]
    with env.session() as session:
        from dnp.publication.publisher import Publisher
        from dnp.register.models import Person

        person = session.get(Person, pupil)
        person.family_name = "Nyberg"
        session.add(person)
        Publisher(session=session).refresh(person_ids=[pupil])
        session.commit()
    wait_for(
        lambda: env.api.stored("persons")[pupil]["familyName"] == "Nyberg", 30, message="the change pushed"
    )
    assert [(c.path, c.ids) for c in env.api.writes()[before:]] == [("persons/bulk", [pupil])]


def test_a_withdrawn_group_is_deleted_at_skolverket_in_reverse_order(live):
    env, _state, _worker_env, _log = live
    env.switch_to_push()
    wait_for(lambda: _everything_stored(env), 60, interval=0.2, message="the first full sync")
    before = len(env.api.writes())
    with env.session() as session:
        from dnp.groups import changes

        changes.withdraw("admin@kommun.se", env.group(), session=session)
        session.commit()
    wait_for(
        lambda: all(env.api.stored(r) == {} for r in ("persons", "duties", "groups", "activities")),
        60,
        interval=0.2,
        message="everything deleted at Skolverket",
    )
    deletes = env.api.writes()[before:]
    assert [c.path for c in deletes] == [
        "activities/bulk/delete",
        "groups/bulk/delete",
        "duties/bulk/delete",
        "persons/bulk/delete",
    ]
    wait_for(lambda: env.objects() == {}, 30, message="the push state forgotten")


def test_redis_down_mid_run_loses_nothing_and_sends_nothing_twice(live, tmp_path):
    env, state, worker_env, log = live
    env.api.delay = 0.1
    env.switch_to_push()
    # Down once the Persons' call was taken and before the rest could follow (they wait for its answer).
    wait_for(lambda: env.api.writes("persons"), 30, interval=0.02, message="the Persons' call")
    state["redis"].stop()
    pupil = env.world.pupils_a[1]["id"]
    with env.session() as session:  # a change made while Redis is away: a web request needs no Redis
        from dnp.publication.publisher import Publisher
        from dnp.register.models import Person

        person = session.get(Person, pupil)
        person.family_name = "Redislös"
        session.add(person)
        Publisher(session=session).refresh(person_ids=[pupil])
        session.commit()
    time.sleep(1.5)
    state["redis"].start()
    state["worker"].stop()  # RQ's worker does not outlive its Redis; the process manager restarts it
    state["worker"] = WorkerProcess(worker_env, state["redis"].url, log, queues=("dnp-push",)).start()
    wait_for(
        lambda: _everything_stored(env) and env.api.stored("persons")[pupil]["familyName"] == "Redislös",
        90,
        interval=0.2,
        message="everything pushed, with the change, after Redis came back",
    )
    writes = Counter(i for call in env.api.writes("persons") for i in call.ids)
    assert len(writes) == 5
    # The changed pupil is written again for its change (unless the change caught the first call); no
    # one else is written twice, and nothing else is sent twice.
    assert {i: n for i, n in writes.items() if n > 1}.keys() <= {pupil} and writes[pupil] <= 2
    for resource in ("duties", "groups", "activities"):
        assert max(Counter(i for call in env.api.writes(resource) for i in call.ids).values()) == 1


def test_an_expired_token_is_replaced_before_the_next_call(live):
    env, _state, _worker_env, _log = live
    env.auth.token_lifetime = 2  # seconds: the JWT's exp; the worker renews at 90 % of it
    env.switch_to_push()
    wait_for(lambda: _everything_stored(env), 60, interval=0.2, message="the first full sync")
    fetched = env.auth.count("/transaction")
    time.sleep(2.5)  # every token fetched so far has expired
    pupil = env.world.pupils_a[2]["id"]
    with env.session() as session:
        from dnp.publication.publisher import Publisher
        from dnp.register.models import Person

        person = session.get(Person, pupil)
        person.given_name = "Förnyad"
        session.add(person)
        Publisher(session=session).refresh(person_ids=[pupil])
        session.commit()
    wait_for(
        lambda: env.api.stored("persons")[pupil]["givenName"] == "Förnyad", 30, message="the change pushed"
    )
    assert env.auth.count("/transaction") > fetched  # a new token was fetched for the change
