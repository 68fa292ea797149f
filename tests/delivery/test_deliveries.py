"""Outbox → deliveries: coalescing, order, claims, back-off, death, requeue, re-stamping (rule 5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery import attempts
from dnp.delivery import deliveries
from dnp.delivery.models import Delivery
from dnp.delivery.models import Subscription
from dnp.publication.models import DeletedEntity
from dnp.publication.models import Outbox
from dnp.publication.models import PublishedEntity
from dnp.publication.restamp import restamp
from dnp.types import utcnow

TIMING = deliveries.Timing(coalesce_seconds=5)


def subscribe(
    db, types=("Person", "Group"), expires_in=timedelta(days=90), target="https://hook.example/a"
) -> Subscription:
    subscription = Subscription(
        id=f"00000000-0000-0000-0000-{len(db.exec(select(Subscription)).all()):012d}",
        name="sv",
        target=target,
        resource_types=list(types),
        expires=utcnow() + expires_in,
    )
    db.add(subscription)
    deliveries.open_cursor(
        subscription, restart=True, session=db
    )  # as subscriptions.create: from the outbox end
    db.commit()
    return subscription


def change(db, resource="Person", entity_id="p1", kind="modified", at=None):
    db.add(Outbox(resource=resource, entity_id=entity_id, change=kind, created_at=at or utcnow()))
    db.commit()


def pending(db, subscription) -> list[Delivery]:
    return list(
        db.exec(
            select(Delivery).where(Delivery.subscription_id == subscription.id, Delivery.status == "pending")
        ).all()
    )


def test_changes_are_gathered_and_coalesced_into_one_pending_delivery(db):
    sub = subscribe(db)
    first = utcnow()
    change(db, "Person", "p1", at=first)
    change(db, "Group", "g1", kind="created")
    change(db, "Activity", "a1")  # not subscribed
    assert deliveries.gather(utcnow(), TIMING, session=db) == 1
    change(db, "Person", "p2", kind="deleted")
    deliveries.gather(utcnow(), TIMING, session=db)
    db.commit()
    [delivery] = pending(db, sub)
    assert delivery.resources == ["Group", "Person"]
    assert delivery.deletions is True
    assert delivery.next_attempt_at == first + timedelta(seconds=5)
    assert deliveries.body_for(delivery) == {
        "modifiedEntities": ["Person", "Group"],
        "modifiedEntites": ["Person", "Group"],
        "deletedEntities": True,
    }


def test_new_subscriber_gets_no_history_and_expired_get_nothing(db):
    change(db, "Person", "old")
    sub = subscribe(db)
    expired = subscribe(db, expires_in=timedelta(days=-1), target="https://hook.example/b")
    deliveries.gather(utcnow(), TIMING, session=db)
    assert pending(db, sub) == []
    change(db, "Person", "new")
    deliveries.gather(utcnow(), TIMING, session=db)
    db.commit()
    assert len(pending(db, sub)) == 1
    assert pending(db, expired) == []


def test_a_subscription_stored_without_a_cursor_gets_everything_since_its_creation(db):
    change(db, "Person", "before", at=utcnow() - timedelta(seconds=1))
    sub = Subscription(
        id="00000000-0000-0000-0000-00000000000f",
        name="sv",
        target="https://hook.example/f",
        resource_types=["Person"],
        expires=utcnow() + timedelta(days=90),
    )
    db.add(sub)
    db.commit()
    change(db, "Person", "after")  # before any sweep saw the subscription
    assert deliveries.gather(utcnow(), TIMING, session=db) == 1
    db.commit()
    [delivery] = pending(db, sub)
    after = db.exec(select(Outbox.id).where(Outbox.entity_id == "after")).one()
    assert (delivery.first_outbox_id, delivery.last_outbox_id) == (after - 1, after)


def test_due_claim_and_one_in_flight_per_subscription(db, app):
    sub = subscribe(db)
    change(db)
    deliveries.gather(utcnow(), TIMING, session=db)
    db.commit()
    assert attempts.due(utcnow(), session=db) == []  # still coalescing
    later = utcnow() + timedelta(seconds=6)
    [delivery_id] = attempts.due(later, session=db)
    claimed = attempts.claim(delivery_id, "w1", later, session=db)
    db.commit()  # as the job does: the claim is visible before the send
    assert claimed is not None and claimed.status == "in_flight"
    with Session(app.extensions["dnp.engine"]) as other:
        assert attempts.claim(delivery_id, "w2", later, session=other) is None  # exactly one claim wins
    change(db, "Group", "g9")
    deliveries.gather(later, TIMING, session=db)
    db.commit()
    [waiting] = pending(db, sub)
    assert waiting.id != delivery_id
    assert attempts.due(later + timedelta(seconds=60), session=db) == []  # waits for the one in flight
    attempts.succeeded(claimed, 204, later, session=db)
    db.commit()
    assert attempts.due(later + timedelta(seconds=60), session=db) == [waiting.id]


def test_backoff_then_dead_then_requeue(db):
    sub = subscribe(db)
    change(db)
    deliveries.gather(utcnow(), TIMING, session=db)
    db.commit()
    [delivery] = pending(db, sub)
    now = delivery.next_attempt_at
    waits = []
    for _ in range(8):
        claimed = attempts.claim(delivery.id, "w", now, session=db)
        attempts.failed(claimed, "HTTP 500", now, TIMING, 500, session=db)
        db.commit()
        waits.append((claimed.next_attempt_at - now).total_seconds())
        now = claimed.next_attempt_at
    assert waits == [10, 30, 60, 300, 900, 3600, 3600, 3600]
    assert claimed.last_error == "HTTP 500" and claimed.attempts == 8
    far = claimed.trying_since + timedelta(days=3)
    claimed = attempts.claim(delivery.id, "w", far, session=db)
    attempts.failed(claimed, "HTTP 503", far, TIMING, 503, session=db)
    db.commit()
    assert claimed.status == "dead"
    change(db, "Group", "g2")
    deliveries.gather(far, TIMING, session=db)
    db.commit()
    assert attempts.requeue_dead(far, session=db) == 1
    db.commit()
    [merged] = pending(db, sub)
    assert merged.resources == ["Group", "Person"]  # the dead one folded into the newer pending one
    assert db.get(Delivery, delivery.id).status == "cancelled"


def test_lost_claims_are_released(db):
    sub = subscribe(db)
    change(db)
    deliveries.gather(utcnow(), TIMING, session=db)
    db.commit()
    [delivery] = pending(db, sub)
    claimed = attempts.claim(delivery.id, "w", delivery.next_attempt_at, session=db)
    assert attempts.release_stuck(claimed.in_flight_since + timedelta(seconds=30), TIMING, session=db) == 0
    assert attempts.release_stuck(claimed.in_flight_since + timedelta(seconds=120), TIMING, session=db) == 1
    db.commit()
    assert pending(db, sub)[0].id == delivery.id


def test_restamp_touches_only_what_the_delivery_covers(db):
    sub = subscribe(db)
    old = utcnow() - timedelta(hours=2)
    for entity_id in ("p1", "p2"):
        db.add(
            PublishedEntity(
                resource="Person", id=entity_id, document="{}", content_hash="x", created=old, modified=old
            )
        )
    db.add(DeletedEntity(resource="Group", entity_id="g1", deleted_at=old))
    db.commit()
    change(db, "Person", "p1", at=old)
    change(db, "Group", "g1", kind="deleted", at=old)
    deliveries.gather(utcnow(), TIMING, session=db)
    db.commit()
    [delivery] = pending(db, sub)
    now = utcnow()
    assert restamp(delivery, sub.resource_types, now, session=db) == 2
    outbox_before = len(db.exec(select(Outbox)).all())
    db.commit()
    assert db.get(PublishedEntity, ("Person", "p1")).modified == now
    assert db.get(PublishedEntity, ("Person", "p2")).modified == old
    assert db.exec(select(DeletedEntity)).one().deleted_at == now
    assert len(db.exec(select(Outbox)).all()) == outbox_before  # re-stamping announces nothing new


@pytest.mark.parametrize("attempts", [0, 1, 6, 40])
def test_time_scale_shrinks_every_wait(attempts):
    fast = deliveries.Timing(scale=0.001)
    assert fast.backoff(attempts) == deliveries.Timing().backoff(attempts) * 0.001
    assert fast.give_up_after == timedelta(days=3) * 0.001


def test_sweeper_requeues_tasks_that_never_reached_redis(app, db):
    from redis import Redis
    from rq import Queue
    from rq.serializers import JSONSerializer

    from dnp.groups.models import BackgroundTask
    from dnp.jobs.sweeper import sweep_once

    connection = Redis.from_url(app.config["REDIS_URL"])
    connection.flushdb()
    task = BackgroundTask(
        kind="catalog_refresh", created_by="x@y.se", created=utcnow() - timedelta(minutes=5)
    )
    db.add(task)
    db.commit()
    with app.app_context():
        assert sweep_once()["enqueued"] == 1
        assert sweep_once()["enqueued"] == 0  # already waiting in the queue: not twice
    queue = Queue("dnp-jobs", connection=connection, serializer=JSONSerializer)
    assert queue.job_ids == [f"task-{task.id}"]
    connection.flushdb()
