"""Changes reach Skolverket by themselves: real Redis, forking RQ workers, TLS receiver, fake nutid.

These take minutes, so `make test` runs them once, in the PostgreSQL pass (marker ``e2e``).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import text
from sqlmodel import select

from dnp.delivery.models import Delivery
from dnp.delivery.models import Subscription
from dnp.delivery.models import WebhookCursor
from dnp.jobs import WEBHOOKS_QUEUE
from dnp.jobs.sweeper import sweep_once
from tests.delivery.conftest import SUBSCRIPTION_ID
from tests.delivery.harness import Sweeper
from tests.helpers import wait_for

pytestmark = pytest.mark.e2e


def test_a_change_reaches_the_receiver_with_our_token_and_the_client_finds_it(delivery_env, client):
    env = delivery_env
    first = env.wait_delivered_through(env.max_outbox())  # the group becoming ready
    receipt = env.receiver.delivered()[-1]
    assert receipt.path == "/hooks/skolverket"
    assert set(receipt.body) == {"modifiedEntities", "modifiedEntites", "deletedEntities"}
    assert receipt.body["modifiedEntities"] == ["Organisation", "Person", "Group", "Duty", "Activity"]
    token = receipt.authorization.removeprefix("Bearer ")
    claims = env.auth.decode(token)  # signed by the auth server: really our fetched token
    assert any(entry["type"] == "ss12000-client" for entry in claims["requested_access"])
    started = time.time()
    env.change(1)
    target = env.max_outbox()
    delivery = env.wait_delivered_through(target)
    latency = env.receiver.delivered()[-1].at - started
    # Within the coalescing window plus a few seconds: a loose bound (no retry or back-off was needed),
    # generous because CI shares two cores; bench/webhooks.py measures the real figure.
    assert latency < 1.0 + 10
    assert delivery.id != first.id
    # Skolverket's client rule: fetch meta.modified.after = receipt − 5 minutes.
    after = datetime.fromtimestamp(env.receiver.delivered()[-1].at, UTC) - timedelta(minutes=5)
    response = client.get(
        "/ss12000/groups",
        query_string={"meta.modified.after": after.isoformat()},
        headers={"Authorization": f"Bearer {env.auth.issue()}"},
    )
    assert response.status_code == 200
    assert "MA åk 9 variant 1" in [group["displayName"] for group in response.get_json()["data"]]


def test_a_burst_of_changes_keeps_one_in_flight_and_one_pending_and_covers_everything(delivery_env):
    env = delivery_env
    start = env.max_outbox()
    env.wait_delivered_through(start)
    # The receiver holds the next webhook until the whole burst is in: the rule is checked while one
    # delivery really is in flight, however fast or slow the changes come. Nothing may take the held
    # attempt for lost meanwhile (the sweeper here, the worker there).
    env.app.config["WEBHOOK_TIMEOUT"] = 120
    env.restart_worker(WEBHOOK_TIMEOUT=120)
    env.receiver.mode = "hold"
    receipts_before = len(env.receiver.receipts)
    worst = {"in_flight": 0, "pending": 0}
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            deliveries = env.deliveries()
            worst["in_flight"] = max(worst["in_flight"], sum(d.status == "in_flight" for d in deliveries))
            worst["pending"] = max(worst["pending"], sum(d.status == "pending" for d in deliveries))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    hits = env.receiver.hits
    env.change(0)
    wait_for(lambda: env.receiver.hits > hits, timeout=30, message="the first webhook to reach the receiver")
    [held] = [d for d in env.deliveries() if d.status == "in_flight"]
    for number in range(1, 100):
        env.change(number)
    target = env.max_outbox()

    def gathered():
        return [d for d in env.deliveries() if d.status == "pending" and d.last_outbox_id >= target]

    [pending] = wait_for(gathered, timeout=30, message="the burst gathered into the pending delivery")
    now = env.deliveries()
    assert [d.id for d in now if d.status in ("in_flight", "pending")] == [held.id, pending.id]
    env.receiver.mode = "ok"
    env.receiver.release.set()
    env.wait_delivered_through(target, timeout=60)
    stop.set()
    watcher.join()
    assert worst == {"in_flight": 1, "pending": 1}
    # 100 changes, two webhooks: the held one and one for everything made while it was held, each sent
    # once, covering the outbox rows after ``start`` end to end without overlap.
    burst = [d for d in env.deliveries() if d.last_outbox_id > start]
    assert [(d.id, d.status) for d in burst] == [(held.id, "delivered"), (pending.id, "delivered")]
    assert (burst[0].first_outbox_id, burst[0].last_outbox_id) == (start, held.last_outbox_id)
    assert (burst[1].first_outbox_id, burst[1].last_outbox_id) == (held.last_outbox_id, target)
    assert [r.status for r in env.receiver.receipts[receipts_before:]] == [204, 204]


def test_500s_then_200_is_delivered_once(delivery_env):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    env.receiver.mode, env.receiver.failures = "fail", 3
    before = len(env.receiver.delivered())
    env.change(2)
    delivery = env.wait_delivered_through(env.max_outbox())
    assert delivery.attempts == 4
    assert len(env.receiver.delivered()) == before + 1
    assert len([r for r in env.receiver.receipts if r.status == 500]) == 3


def test_receiver_down_for_a_day_then_back_and_the_client_rule_still_finds_it(delivery_env, client):
    env = delivery_env  # time scale 0.0002: a day passes in about 17 s
    env.wait_delivered_through(env.max_outbox())
    # Scale rule 5 too: re-stamp after 2 s where production says 4 min; the client looks back 2.5 s
    # where Skolverket's looks back 5 min. Without re-stamping, the change would be missed.
    env.restart_worker(WEBHOOK_RESTAMP_AFTER=2)
    look_back = timedelta(seconds=2.5)
    env.receiver.mode = "down"
    env.change(3)
    target = env.max_outbox()
    changed_at = time.time()
    wait_for(lambda: time.time() - changed_at > 86400 * 0.0002, timeout=30, message="a simulated day")
    failing = wait_for(
        lambda: [d for d in env.deliveries() if d.status in ("pending", "in_flight") and d.attempts >= 5],
        timeout=20,
        message="repeated failed attempts",
    )
    assert "503" in failing[-1].last_error
    env.receiver.mode = "ok"
    delivery = env.wait_delivered_through(target, timeout=30)
    assert delivery.restamped_at is not None  # late: re-stamped just before sending
    received = env.receiver.delivered()[-1].at
    after = datetime.fromtimestamp(received, UTC) - look_back
    response = client.get(
        "/ss12000/groups",
        query_string={"meta.modified.after": after.isoformat()},
        headers={"Authorization": f"Bearer {env.auth.issue()}"},
    )
    assert "MA åk 9 variant 3" in [group["displayName"] for group in response.get_json()["data"]]


def test_hanging_receiver_is_cut_off_at_the_timeout(delivery_env):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    env.receiver.mode = "hang"
    env.change(4)

    def failed_once():
        return [d for d in env.deliveries() if d.status == "pending" and d.attempts >= 1]

    [delivery] = wait_for(failed_once, timeout=20, message="the attempt to time out")
    assert "inom 2 s" in delivery.last_error
    env.receiver.release.set()
    env.receiver.mode = "ok"
    env.wait_delivered_through(env.max_outbox())


def test_worker_and_horse_killed_mid_delivery_then_delivered_after_restart(delivery_env):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    env.receiver.mode = "hang"
    env.change(5)
    wait_for(
        lambda: [d for d in env.deliveries() if d.status == "in_flight"], timeout=20, message="in flight"
    )
    env.worker.kill_hard()
    env.receiver.release.set()
    env.receiver.mode = "ok"
    env.restart_worker()
    delivery = env.wait_delivered_through(env.max_outbox(), timeout=40)
    assert delivery.attempts >= 2


def test_redis_down_while_changes_are_made(delivery_env, app):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    env.redis.stop()
    for number in range(5):
        env.change(100 + number)  # the same service calls a web request makes: no Redis needed
    target = env.max_outbox()
    time.sleep(1.5)
    env.redis.start()
    env.restart_worker()
    env.wait_delivered_through(target, timeout=40)


def test_targets_outside_the_allow_list_are_never_contacted(delivery_env):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    hits = env.receiver.hits
    env.app.config["WEBHOOK_ALLOWED_TARGETS"] = "https://api.skolverket.se/provtjanst/"
    env.restart_worker(WEBHOOK_ALLOWED_TARGETS="https://api.skolverket.se/provtjanst/")
    env.change(6)
    dead = wait_for(lambda: [d for d in env.deliveries() if d.status == "dead"], timeout=20, message="dead")
    assert "inte tillåten" in dead[-1].last_error
    assert env.receiver.hits == hits


def test_redirects_are_not_followed(delivery_env):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    env.receiver.mode = "redirect"
    env.change(7)
    failing = wait_for(
        lambda: [d for d in env.deliveries() if d.status == "pending" and d.attempts >= 1],
        timeout=20,
        message="a failure",
    )
    assert "omdirigering" in failing[-1].last_error
    assert all(r.path.startswith("/hooks/") for r in env.receiver.receipts)


def test_expired_subscriptions_get_nothing(delivery_env):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    with env.session() as session:
        subscription = session.get(Subscription, "5b1d1c55-0000-4000-8000-000000000001")
        subscription.expires = datetime.now(UTC) - timedelta(seconds=1)
        session.add(subscription)
        session.commit()
    hits = env.receiver.hits
    count = len(env.deliveries())
    env.change(8)
    time.sleep(3)
    assert env.receiver.hits == hits
    with env.session() as session:
        assert len(session.exec(select(Delivery)).all()) == count


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("no_certificate", "klientcertifikat"),
        ("unregistered_certificate", ""),
        ("untrusted_server", ""),
        ("auth_server_down", ""),
    ],
)
def test_token_errors_leave_deliveries_pending_with_a_clear_error(delivery_env, tmp_path, setting, words):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    good = dict(env.worker_env)
    if setting == "no_certificate":
        env.restart_worker(TLS_CLIENT_CERT="", TLS_CLIENT_KEY="")
    elif setting == "unregistered_certificate":
        cert = env.auth.make_client_cert(tmp_path, registered=False)
        env.restart_worker(TLS_CLIENT_CERT=cert.cert_path, TLS_CLIENT_KEY=cert.key_path)
    elif setting == "untrusted_server":
        env.restart_worker(TLS_CA_BUNDLE=env.auth.pki.rogue_ca_bundle_path)
    else:
        env.restart_worker(AUTH_SERVER_URL="https://127.0.0.1:9/transaction")
    hits = env.receiver.hits
    env.change(9)
    target = env.max_outbox()
    failing = wait_for(
        lambda: [d for d in env.deliveries() if d.status == "pending" and d.attempts >= 2],
        timeout=20,
        message="failed attempts",
    )
    error = failing[-1].last_error
    assert error.startswith("Kunde inte hämta token"), error
    assert words.lower() in error.lower()
    assert env.receiver.hits == hits  # never contacted without a token
    env.worker_env.clear()
    env.worker_env.update(good)
    env.restart_worker()
    env.wait_delivered_through(target, timeout=60)  # fixed: nothing was lost


def _subscribe(env, client, name: str):
    """Register a second subscription through the API, as Skolverket's client does."""
    response = client.post(
        "/ss12000/subscriptions",
        json={"name": name, "target": f"{env.receiver.url}/hooks/{name}", "resourceTypes": ["Group"]},
        headers={"Authorization": f"Bearer {env.auth.issue()}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def _received_at(env, name: str):
    return [r for r in env.receiver.delivered() if r.path == f"/hooks/{name}"]


def test_a_change_made_right_after_subscribing_is_announced(delivery_env, client):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    _subscribe(env, client, "second")
    env.change(12)  # at once: the sweeper has had no chance to look at the new subscription
    [receipt] = wait_for(lambda: _received_at(env, "second"), timeout=20, message="a webhook to /second")
    assert receipt.body["modifiedEntities"] == ["Group"]


def test_subscribing_while_the_sweeper_is_stopped_then_a_change_is_announced_when_it_runs(
    delivery_env, client
):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    env.sweeper.stop()  # the clock process is down (or Redis away)
    _subscribe(env, client, "third")
    env.change(13)
    env.sweeper = Sweeper(env.app).start()
    wait_for(lambda: _received_at(env, "third"), timeout=20, message="a webhook to /third")


def test_a_delivery_id_reused_after_a_database_restore_is_still_sent(delivery_env, monkeypatch):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    env.sweeper.stop()
    env.worker.stop()
    with env.session() as session:
        cursor = session.get(WebhookCursor, SUBSCRIPTION_ID)
        cursor_before = (cursor.last_outbox_id, cursor.snapshot)
    env.change(14)
    target = env.max_outbox()
    with env.app.app_context():
        wait_for(lambda: sweep_once()["enqueued"], timeout=10, message="the delivery to be enqueued")
    queue = Queue(WEBHOOKS_QUEUE, connection=Redis.from_url(env.redis.url), serializer=JSONSerializer)
    [held] = queue.job_ids
    # The job fails before claiming (the database is away); RQ keeps it, and its id, for a day.
    with monkeypatch.context() as patch:
        patch.setattr("dnp.jobs.webhooks.deliver_webhook", lambda *args: 1 / 0)
        SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)
    assert FailedJobRegistry(queue=queue).get_job_ids() == [held]
    # The database is restored from before that delivery was made; Redis is kept.
    with env.session() as session:
        [lost] = session.exec(select(Delivery).where(Delivery.status == "pending")).all()
        session.delete(lost)
        cursor = session.get(WebhookCursor, SUBSCRIPTION_ID)
        cursor.last_outbox_id, cursor.snapshot = cursor_before
        session.commit()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT setval('delivery_id_seq', :id, false)"), {"id": lost.id})
            session.commit()
    env.restart_worker()
    env.sweeper = Sweeper(env.app).start()
    delivery = env.wait_delivered_through(target)
    assert delivery.id == lost.id  # the same id again, and still sent


def test_deleting_a_subscription_while_its_webhook_is_in_flight_ends_the_job_cleanly(delivery_env, client):
    env = delivery_env
    env.wait_delivered_through(env.max_outbox())
    env.receiver.mode = "hang"
    env.change(15)
    [in_flight] = wait_for(
        lambda: [d for d in env.deliveries() if d.status == "in_flight"], timeout=20, message="in flight"
    )
    response = client.delete(
        f"/ss12000/subscriptions/{SUBSCRIPTION_ID}", headers={"Authorization": f"Bearer {env.auth.issue()}"}
    )
    assert response.status_code == 204
    env.receiver.release.set()  # the receiver gives up too: the attempt ends with an error
    line = f"delivery {in_flight.id} cancelled: its subscription was deleted while the webhook was in flight"
    wait_for(lambda: line in env.worker.log.read_text(errors="replace"), timeout=20, message="the log line")
    queue = Queue(WEBHOOKS_QUEUE, connection=Redis.from_url(env.redis.url), serializer=JSONSerializer)
    wait_for(lambda: StartedJobRegistry(queue=queue).count == 0, timeout=10, message="the job to end")
    assert FailedJobRegistry(queue=queue).count == 0  # not kept as a failed job for a day
    assert env.deliveries() == []
