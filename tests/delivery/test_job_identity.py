"""RQ job identity of deliveries: unique across database resets, skipped enqueues visible, clean ends.

Jobs run in this process (RQ's SimpleWorker on the test's own Redis database), with the HTTP call
replaced, so these run on both databases; test_delivery_e2e.py covers the same with real workers.
"""

from __future__ import annotations

import logging
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from rq import Queue
from rq import SimpleWorker
from rq.job import Job
from rq.job import JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from sqlmodel import Session
from sqlmodel import select

import dnp.jobs.webhooks
from dnp.delivery import attempts
from dnp.delivery import deliveries
from dnp.delivery.models import Delivery
from dnp.delivery.models import Subscription
from dnp.delivery.sender import SendResult
from dnp.jobs import WEBHOOKS_QUEUE
from dnp.jobs.sweeper import sweep_once
from dnp.types import utcnow

SUBSCRIPTION_ID = "00000000-0000-4000-8000-00000000000a"



@pytest.fixture
def sent(app, monkeypatch):
    """Webhooks "sent" by in-process jobs: (target, body) per call; the subscription is live and allowed."""
    app.config["WEBHOOK_ALLOWED_TARGETS"] = "https://hook.example/"
    calls = []

    def post(target, body, tokens, ca_bundle, timeout):
        calls.append((target, body))
        return SendResult(True, 204)

    monkeypatch.setattr(dnp.jobs.webhooks, "post_webhook", post)
    monkeypatch.setattr(dnp.jobs.webhooks, "token_client", lambda config, session: None)
    return calls


def subscription(db) -> Subscription:
    row = Subscription(
        id=SUBSCRIPTION_ID,
        name="Skolverket",
        target="https://hook.example/a",
        resource_types=["Person"],
        expires=utcnow() + timedelta(days=90),
    )
    db.add(row)
    db.commit()
    return row


def due_delivery(db, delivery_id: int = 7) -> Delivery:
    """A pending delivery whose time has come, with a given id (as a restored database reuses ids)."""
    earlier = utcnow() - timedelta(seconds=10)
    delivery = Delivery(
        id=delivery_id,
        subscription_id=SUBSCRIPTION_ID,
        resources=["Person"],
        first_outbox_id=0,
        last_outbox_id=1,
        first_change_at=earlier,
        trying_since=earlier,
        next_attempt_at=earlier,
    )
    db.add(delivery)
    db.commit()
    return delivery


def queue(redis) -> Queue:
    return Queue(WEBHOOKS_QUEUE, connection=redis, serializer=JSONSerializer)


def run_jobs(redis) -> None:
    """Run every queued webhook job here and now."""
    SimpleWorker([queue(redis)], connection=redis, serializer=JSONSerializer).work(burst=True)


def fail_jobs(redis, monkeypatch) -> None:
    """Run the queued jobs so that they fail before claiming (say, the database was away)."""

    def broken(*args):
        raise RuntimeError("database away")

    with monkeypatch.context() as patch:
        patch.setattr(dnp.jobs.webhooks, "deliver_webhook", broken)
        run_jobs(redis)


def status(app, delivery_id: int) -> str | None:
    with Session(app.extensions["dnp.engine"]) as session:
        delivery = session.get(Delivery, delivery_id)
        return delivery.status if delivery else None


def test_a_reused_delivery_id_after_a_database_reset_is_still_enqueued_and_sent(
    app, db, redis, sent, monkeypatch
):
    subscription(db)
    old = due_delivery(db)
    with app.app_context():
        assert sweep_once()["enqueued"] == 1
    [old_job_id] = queue(redis).job_ids
    fail_jobs(redis, monkeypatch)  # Redis keeps the failed job (and its id) for a day
    assert FailedJobRegistry(queue=queue(redis)).get_job_ids() == [old_job_id]
    # The database is restored to before that delivery; Redis is kept. The next one gets the same id.
    db.delete(old)
    db.commit()
    fresh = due_delivery(db)
    assert (fresh.id, fresh.attempts) == (old.id, old.attempts)
    with app.app_context():
        assert sweep_once()["enqueued"] == 1
    [job_id] = queue(redis).job_ids
    assert job_id != old_job_id
    assert job_id == attempts.job_id(fresh.id, fresh.job_key, 0)
    assert queue(redis).fetch_job(job_id).args == [fresh.id, fresh.job_key]  # ids only
    with app.app_context():
        run_jobs(redis)
    assert status(app, fresh.id) == "delivered"
    assert sent == [("https://hook.example/a", deliveries.body_for(fresh))]


def test_a_held_job_that_will_not_run_is_replaced_and_logged(app, db, redis, sent, monkeypatch, caplog):
    subscription(db)
    delivery = due_delivery(db)
    with app.app_context():
        sweep_once()
    [job_id] = queue(redis).job_ids
    fail_jobs(redis, monkeypatch)  # failed before it could claim: the delivery is still pending
    assert status(app, delivery.id) == "pending"
    caplog.set_level(logging.INFO, logger="dnp.jobs.sweeper")
    with app.app_context():
        assert sweep_once()["enqueued"] == 1
    assert queue(redis).job_ids == [job_id]
    assert FailedJobRegistry(queue=queue(redis)).get_job_ids() == []
    [warning] = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and job_id in r.getMessage()
    ]
    assert warning == f"job {job_id} was held by Redis (failed) but will not run: replaced"
    with app.app_context():
        run_jobs(redis)
    assert status(app, delivery.id) == "delivered"


def test_a_job_left_started_by_a_stopped_worker_is_replaced_once_a_claim_would_have_expired(
    app, db, redis, sent, caplog
):
    # The worker was stopped after marking the job started and before it claimed the delivery (or
    # marked the job failed): RQ keeps it "started" until its next maintenance, minutes later.
    subscription(db)
    delivery = due_delivery(db)
    with app.app_context():
        sweep_once()
    [job_id] = queue(redis).job_ids
    job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
    queue(redis).remove(job_id)
    job.set_status(JobStatus.STARTED)
    job.started_at = datetime.now(UTC) - timedelta(seconds=30)
    job.save()
    caplog.set_level(logging.INFO, logger="dnp.jobs.sweeper")
    with app.app_context():
        assert sweep_once()["enqueued"] == 0  # started recently: it may still claim the delivery
        job.started_at = datetime.now(UTC) - timedelta(minutes=10)
        job.save()
        assert sweep_once()["enqueued"] == 1
    assert queue(redis).job_ids == [job_id]
    assert f"job {job_id} was held by Redis (started long ago) but will not run: replaced" in caplog.text
    with app.app_context():
        run_jobs(redis)
    assert status(app, delivery.id) == "delivered"


def test_a_skipped_enqueue_is_logged_once_with_the_job_id(app, db, redis, caplog):
    subscription(db)
    due_delivery(db, delivery_id=8)
    caplog.set_level(logging.INFO, logger="dnp.jobs.sweeper")
    with app.app_context():
        assert sweep_once()["enqueued"] == 1
        assert sweep_once()["enqueued"] == 0  # still waiting in the queue: not twice
        assert sweep_once()["enqueued"] == 0
    [job_id] = queue(redis).job_ids
    skipped = [r.getMessage() for r in caplog.records if "enqueue skipped" in r.getMessage()]
    assert skipped == [f"enqueue skipped: job {job_id} is already in Redis (queued)"]


def test_a_job_from_before_a_reset_does_not_claim_the_delivery_now_under_its_id(app, db, sent):
    subscription(db)
    delivery = due_delivery(db)
    with app.app_context():
        dnp.jobs.webhooks.deliver_webhook(delivery.id, "0123456789abcdef")
    assert status(app, delivery.id) == "pending" and sent == []
    with app.app_context():
        dnp.jobs.webhooks.deliver_webhook(delivery.id, delivery.job_key)
    assert status(app, delivery.id) == "delivered"


@pytest.mark.parametrize("answer", [SendResult(True, 204), SendResult(False, 500, "HTTP 500")])
def test_deleting_the_subscription_while_its_webhook_is_in_flight_ends_the_job_cleanly(
    app, db, redis, monkeypatch, caplog, answer
):
    app.config["WEBHOOK_ALLOWED_TARGETS"] = "https://hook.example/"
    subscription(db)
    delivery = due_delivery(db)

    def post_while_deleted(target, body, tokens, ca_bundle, timeout):
        with Session(app.extensions["dnp.engine"]) as other:  # DELETE /ss12000/subscriptions/{id}
            other.delete(other.get(Subscription, SUBSCRIPTION_ID))
            other.commit()
        return answer

    monkeypatch.setattr(dnp.jobs.webhooks, "post_webhook", post_while_deleted)
    monkeypatch.setattr(dnp.jobs.webhooks, "token_client", lambda config, session: None)
    caplog.set_level(logging.INFO, logger="dnp.jobs.webhooks")
    with app.app_context():
        sweep_once()
        run_jobs(redis)
    assert FailedJobRegistry(queue=queue(redis)).count == 0  # not a failed job kept for a day
    assert status(app, delivery.id) is None
    assert db.exec(select(Subscription)).all() == []
    assert (
        f"delivery {delivery.id} cancelled: its subscription was deleted while the webhook was in flight"
        in caplog.messages
    )
