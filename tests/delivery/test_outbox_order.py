"""Rule 4 on PostgreSQL: outbox ids become visible in commit order, not id order; no change is lost.

Two real transactions on two connections: the first takes the lower outbox id and stays open while
the second takes a higher one and commits. SQLite cannot hold two write transactions at once (its
writers are serialised, so its ids are in commit order): these run in the PostgreSQL pass.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlmodel import Session
from sqlmodel import select

from dnp.delivery import attempts
from dnp.delivery import deliveries
from dnp.delivery import ops
from dnp.delivery import outbox
from dnp.delivery import subscriptions
from dnp.delivery.models import Delivery
from dnp.delivery.models import WebhookCursor
from dnp.publication.models import Outbox
from dnp.register.ingest import ingest_items
from dnp.types import utcnow
from tests.fakes.auth_server import API_LOCATION
from tests.ss12000.helpers import make_group

# SQLite serialises writers (two write transactions cannot be open at once): PostgreSQL pass only.
pytestmark = pytest.mark.postgres_only

TARGET = "https://hook.example/webhooks/skolverket"
NOW_TIMING = deliveries.Timing(coalesce_seconds=0)


@pytest.fixture
def pupils(app, world) -> list[dict]:
    """Pupils of a ready group: published, so a register change of one writes an outbox row."""
    make_group(app, world.unit["id"], [world.class_a["id"]], staff=[world.teacher["id"]], name="MA åk 9")
    return world.pupils_a


def change_person(session: Session, person: dict, name: str) -> int:
    """A register change through the ingest service (publication included); the new outbox row's id."""
    ingest_items("persons", [dict(person, givenName=name)], "sis:test", "upsert", session=session)
    return session.exec(
        select(Outbox.id).where(Outbox.entity_id == person["id"]).order_by(Outbox.id.desc())
    ).first()


def committed_elsewhere(app, person: dict, name: str) -> int:
    """The same change in a transaction of its own, on another connection and thread, committed."""
    result: list[int] = []

    def run():
        with Session(app.extensions["dnp.engine"]) as session:
            result.append(change_person(session, person, name))
            session.commit()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and result, "the second transaction did not commit"
    return result[0]


def gathered(db) -> list[Delivery]:
    """Gather (as the sweeper does) and return the pending deliveries."""
    deliveries.gather(utcnow(), NOW_TIMING, session=db)
    db.commit()
    return list(db.exec(select(Delivery).where(Delivery.status == "pending")).all())


def covers(delivery: Delivery, outbox_id: int) -> bool:
    """Whether the delivery announces that outbox row (its id range holds it)."""
    return delivery.first_outbox_id < outbox_id <= delivery.last_outbox_id


def test_a_change_committed_after_a_higher_id_was_gathered_is_still_announced(app, db, pupils):
    body = {"name": "sv", "target": TARGET, "resourceTypes": ["Person"]}
    subscriptions.create(body, "skolverket", TARGET, 90, session=db)
    db.commit()
    with Session(app.extensions["dnp.engine"]) as first:
        early = change_person(first, pupils[0], "Tidig")  # T1: the lower id, still open
        late = committed_elsewhere(app, pupils[1], "Sen")  # T2: a higher id, committed first
        assert early < late
        [sent] = gathered(db)  # a sweep sees T2 only
        assert covers(sent, late)
        attempts.succeeded(sent, 204, utcnow(), session=db)  # and its webhook goes out
        db.commit()
        assert ops.backlog(session=db).outbox_waiting == 0
        first.commit()  # now T1 commits, below what was gathered
    assert ops.backlog(session=db).outbox_waiting == 1  # operators see it waiting
    [announced] = gathered(db)
    assert announced.id != sent.id and covers(announced, early)
    assert announced.resources == ["Person"]
    attempts.succeeded(announced, 204, utcnow(), session=db)
    db.commit()
    assert gathered(db) == []  # and nothing is gathered twice


def test_a_change_committed_after_the_201_is_announced_though_its_id_is_older(
    app, db, client, auth_server, pupils
):
    app.config.update(
        SS12000_JWKS_URL=auth_server.jwks_url,
        SS12000_ISSUER=auth_server.issuer,
        SS12000_AUDIENCE="nutid",
        SS12000_LOCATION=API_LOCATION,
        TLS_CA_BUNDLE=str(auth_server.ca_bundle_path),
        WEBHOOK_ALLOWED_TARGETS=TARGET,
    )
    with Session(app.extensions["dnp.engine"]) as first:
        early = change_person(first, pupils[0], "Tidig")  # T1: the lower id, still open
        late = committed_elsewhere(app, pupils[1], "Sen")  # committed before the subscription
        response = client.post(
            "/ss12000/subscriptions",
            json={"name": "sv", "target": TARGET, "resourceTypes": ["Person"]},
            headers={"Authorization": f"Bearer {auth_server.issue()}"},
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        first.commit()  # T1 commits after the 201
    [delivery] = gathered(db)
    assert delivery.subscription_id == response.get_json()["id"]
    assert covers(delivery, early)  # announced
    assert not covers(delivery, late)  # complete before the subscription: not replayed


def test_a_reader_counts_its_own_open_transaction_as_not_yet_complete(app, db, pupils):
    db.execute(text("SELECT pg_current_xact_id()"))  # this transaction has an id ...
    committed_elsewhere(app, pupils[1], "Sen")  # ... and a later one completes before it
    since = outbox.end(session=db)
    own = change_person(db, pupils[0], "Egen")  # written after ``since``, in the same transaction
    db.commit()
    read = db.exec(select(Outbox.id).where(outbox.between(since, outbox.end(session=db)))).all()
    assert own in read


def test_after_a_restore_into_another_cluster_the_cursor_reads_by_id_once(app, db, pupils, caplog):
    body = {"name": "sv", "target": TARGET, "resourceTypes": ["Person"]}
    subscription = subscriptions.create(body, "skolverket", TARGET, 90, session=db)
    db.commit()
    cursor = db.get(WebhookCursor, subscription.id)
    # As restored from a pg_dump of a cluster whose transaction counter was far ahead of this one.
    cursor.snapshot = "9000000000000:9000000000001:"
    db.commit()
    changed = committed_elsewhere(app, pupils[0], "Efter")
    [delivery] = gathered(db)
    assert covers(delivery, changed)
    assert "went back" in caplog.text
    assert int(db.get(WebhookCursor, subscription.id).snapshot.split(":")[1]) < 9000000000000
    attempts.succeeded(delivery, 204, utcnow(), session=db)
    db.commit()
    assert gathered(db) == []
