"""Operators see and requeue failing deliveries; the CLI does the same. No personal data."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.delivery.models import Delivery
from dnp.delivery.models import Subscription
from dnp.types import utcnow
from tests.helpers import csrf_token
from tests.helpers import signed_in


def _dead(db) -> Delivery:
    now = utcnow()
    db.add(
        Subscription(
            id="5b1d1c55-0000-4000-8000-000000000009",
            name="Skolverket",
            target="https://api.skolverket.se/provtjanst/hooks",
            resource_types=["Person"],
            expires=now + timedelta(days=1),
        )
    )
    db.commit()  # no ORM relationship orders the inserts
    delivery = Delivery(
        subscription_id="5b1d1c55-0000-4000-8000-000000000009",
        status="dead",
        resources=["Person"],
        first_change_at=now - timedelta(days=4),
        trying_since=now - timedelta(days=4),
        next_attempt_at=now,
        attempts=80,
        last_error="Mottagaren svarade HTTP 503.",
    )
    db.add(delivery)
    db.commit()
    return delivery


def test_ops_page_shows_dead_delivery_and_requeues_it(app, client, db):
    delivery = _dead(db)
    signed_in(client, app, "drift@kommun.se", "operator")
    page = client.get("/ops/").get_data(as_text=True)
    assert "Mottagaren svarade HTTP 503." in page
    assert "api.skolverket.se" in page
    response = client.post(
        "/ops/leveranser/ko-om",
        data={"delivery_id": str(delivery.id)},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert "1 leverans skickas igen" in response.get_data(as_text=True)
    db.refresh(delivery)
    assert delivery.status == "pending" and delivery.attempts == 0
    assert (
        db.exec(select(AuditEvent).where(AuditEvent.action == "ops.deliveries_requeued")).one().actor
        == "drift@kommun.se"
    )


def test_cli_status_and_requeue(runner, db):
    delivery = _dead(db)
    status = runner.invoke(args=["dnp", "deliveries", "status"])
    assert status.exit_code == 0 and json.loads(status.output.splitlines()[0])["dead"] == 1
    assert f"{delivery.id}\tdead\t80" in status.output
    assert runner.invoke(args=["dnp", "deliveries", "requeue"]).exit_code == 2
    done = runner.invoke(args=["dnp", "deliveries", "requeue", "--all"])
    assert "1 leverans skickas igen" in done.output
    db.refresh(delivery)
    assert delivery.status == "pending"
