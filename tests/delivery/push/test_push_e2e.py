"""Push end to end: a forking RQ worker process, the sweeper loop, a private Redis, the fakes over TLS.

Slow (worker start, a lease running out), so ``make test`` runs them once, in the PostgreSQL pass.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.delivery.harness import PrivateRedis
from tests.delivery.harness import Sweeper
from tests.delivery.harness import WorkerProcess
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
    state = {"worker": worker}
    yield env, state, worker_env, log
    sweeper.stop()
    state["worker"].stop()
    env.api.release()
    redis.stop()
    assert "Traceback" not in log.read_text(errors="replace")


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
