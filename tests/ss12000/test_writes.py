"""Subscriptions, /log and /statistics: stored as Skolverket's client sends them, checked, audited."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from sqlmodel import select

from dnp.delivery import deliveries
from dnp.delivery.models import Delivery
from dnp.delivery.models import Subscription
from dnp.delivery.models import WebhookCursor
from dnp.delivery.subscriptions import target_allowed
from dnp.publication.models import Outbox
from dnp.ss12000.models import FeedbackLog
from dnp.ss12000.models import FeedbackStatistics
from dnp.types import utcnow

TARGET = "https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/4711"
ALLOWED = (
    "https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/,https://apigw-pre.skolverket.se/x/v1"
)


def subscribe(api, **overrides):
    body = {"name": "Webhook for DNP", "target": TARGET, "resourceTypes": [{"resource": "Person"}]}
    return api.post("/subscriptions", {**body, **overrides})


def test_subscription_lifecycle(app, api, db):
    app.config["SUBSCRIPTION_DAYS"] = 30
    response = subscribe(api, resourceTypes=[{"resource": "Person"}, "Group", {"resource": "Person"}])
    assert response.status_code == 201
    body = response.get_json()
    assert body["resourceTypes"] == [{"resource": "Person"}, {"resource": "Group"}]
    expires = datetime.fromisoformat(body["expires"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)

    # Registering the same target again renews that subscription instead of adding a second webhook.
    again = subscribe(api, name="Igen", resourceTypes=["Activity"]).get_json()
    assert again["id"] == body["id"] and again["resourceTypes"] == [{"resource": "Activity"}]
    assert len(db.exec(select(Subscription)).all()) == 1

    app.config["SUBSCRIPTION_DAYS"] = 90
    renewed = api.call("PATCH", f"/subscriptions/{body['id']}")
    assert renewed.status_code == 200
    assert renewed.get_json()["expires"] > body["expires"]
    assert api.call("PATCH", "/subscriptions/0b2c7f0e-0000-4000-8000-000000000009").status_code == 404
    assert api.call("DELETE", f"/subscriptions/{body['id']}").status_code == 204
    assert api.call("DELETE", f"/subscriptions/{body['id']}").status_code == 204
    assert db.exec(select(Subscription)).all() == []


def _change(db, entity_id: str) -> int:
    row = Outbox(resource="Person", entity_id=entity_id, change="modified", created_at=utcnow())
    db.add(row)
    db.commit()
    return row.id


def _gathered(db) -> list[Delivery]:
    deliveries.gather(utcnow(), deliveries.Timing(coalesce_seconds=0), session=db)
    db.commit()
    return list(db.exec(select(Delivery).order_by(Delivery.id)).all())


def test_a_change_right_after_subscribing_is_announced(api, db):
    _change(db, "before")
    response = subscribe(api)
    assert response.status_code == 201
    subscription_id = response.get_json()["id"]
    after = _change(db, "after")  # at once: no sweep in between
    # The starting point was committed with the subscription, at the outbox end of that moment.
    assert db.get(WebhookCursor, subscription_id).last_outbox_id == after - 1
    [delivery] = _gathered(db)
    assert delivery.subscription_id == subscription_id and delivery.resources == ["Person"]
    assert (delivery.first_outbox_id, delivery.last_outbox_id) == (after - 1, after)


def test_renewing_a_live_subscription_neither_skips_nor_replays(api, db):
    subscription_id = subscribe(api).get_json()["id"]
    first = _change(db, "p1")
    assert api.call("PATCH", f"/subscriptions/{subscription_id}").status_code == 200
    assert subscribe(api, name="Igen").status_code == 201  # registering again renews as well
    second = _change(db, "p2")
    [delivery] = _gathered(db)
    assert (delivery.first_outbox_id, delivery.last_outbox_id) == (first - 1, second)
    assert _gathered(db) == [delivery]  # nothing gathered twice
    assert db.get(WebhookCursor, subscription_id).last_outbox_id == second


@pytest.mark.parametrize("renew", ["PATCH", "POST"])
def test_renewing_an_expired_subscription_starts_from_the_renewal(api, db, renew):
    subscription_id = subscribe(api).get_json()["id"]
    subscription = db.get(Subscription, subscription_id)
    subscription.expires = utcnow() - timedelta(days=1)
    db.add(subscription)
    db.commit()
    _change(db, "while-expired")  # not announced: the subscription was not live
    if renew == "PATCH":
        assert api.call("PATCH", f"/subscriptions/{subscription_id}").status_code == 200
    else:
        assert subscribe(api).get_json()["id"] == subscription_id
    after = _change(db, "after-renewal")
    [delivery] = _gathered(db)
    assert (delivery.first_outbox_id, delivery.last_outbox_id) == (after - 1, after)


@pytest.mark.parametrize(
    "body",
    [
        {"target": TARGET, "resourceTypes": ["Person"]},
        {"name": "x", "resourceTypes": ["Person"]},
        {"name": "x", "target": "ftp://api.skolverket.se/", "resourceTypes": ["Person"]},
        {"name": "x", "target": TARGET, "resourceTypes": []},
        {"name": "x", "target": TARGET, "resourceTypes": ["Pupil"]},
        {"name": "x", "target": TARGET, "resourceTypes": [{"resource": "Syllabus"}]},
        {"name": "x", "target": "https://evil.example/webhooks", "resourceTypes": ["Person"]},
        {"name": "x", "target": TARGET + "/..;/x", "resourceTypes": ["Person"]},
        {"name": "x", "target": TARGET + "/%252e%252e/x", "resourceTypes": ["Person"]},
        {"name": "x", "target": TARGET + "/\u2025/x", "resourceTypes": ["Person"]},
        {"name": "x", "target": TARGET + "%00", "resourceTypes": ["Person"]},
        [],
    ],
)
def test_bad_subscriptions_are_400(api, body, db):
    response = api.post("/subscriptions", body)
    assert response.status_code == 400
    assert db.exec(select(Subscription)).all() == []
    assert api.call("POST", "/subscriptions", data=b"{not json").status_code == 400


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/1", True),
        ("https://API.Skolverket.se:443/provtjanst/ss12000/klient/v1/webhooks/1", True),
        ("https://apigw-pre.skolverket.se/x/v1", True),
        ("https://apigw-pre.skolverket.se/x/v1/webhooks/9?u=1", True),
        ("https://apigw-pre.skolverket.se/x/v10", False),
        ("https://api.skolverket.se.evil.example/provtjanst/ss12000/klient/v1/webhooks/1", False),
        ("https://evil.example/api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/1", False),
        ("https://api.skolverket.se@evil.example/provtjanst/ss12000/klient/v1/webhooks/1", False),
        ("https://user:pw@api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/1", False),
        ("http://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/1", False),
        ("https://api.skolverket.se:8443/provtjanst/ss12000/klient/v1/webhooks/1", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/../../../evil", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/%2e%2e/x", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhook", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/1#frag", False),
        ("https://api.skolverket.se\\@evil.example/", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/ 1", False),
        ("https://api.skolverket.se:99999/provtjanst/ss12000/klient/v1/webhooks/1", False),
        # Encodings and separators that may mean another path to the receiving server.
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/..;/x", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/1;jsessionid=2", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/%252e%252e/x", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/\u2025/x", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/%00", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/%41", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/1\t", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/1?x=\u00e5", False),
        ("https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/a-1_b.c~d", True),
    ],
)
def test_target_must_start_with_an_allowed_prefix(target, allowed):
    assert target_allowed(target, ALLOWED) is allowed


def test_no_allowed_targets_means_none(api, app):
    app.config["WEBHOOK_ALLOWED_TARGETS"] = ""
    assert subscribe(api).status_code == 400
    assert target_allowed(TARGET, " , ") is False


def test_log_and_statistics_are_stored(api, db):
    entry = {
        "message": '<script>alert("x")</script> courseCode kan inte mappas',
        "messageType": "ValueMapping",
        "resourceType": "Syllabus",
        "resourceId": "5e10f18c-6d0d-450b-a4b8-fa99e1053f78",
        "resourceUrl": "https://service.example.se/ss12000/activities",
        "severityLevel": "Warning",
        "timeOfOccurance": "2026-11-28T10:00:00+01:00",
    }
    response = api.post("/log", entry)
    assert response.status_code == 201 and response.get_json() == {"message": "created"}
    stored = db.exec(select(FeedbackLog)).one()
    assert stored.message == entry["message"] and stored.time_of_occurance.hour == 9
    assert (
        api.post("/log", {"message": "x", "severityLevel": "Info", "timeOfOccurance": "igår"}).status_code
        == 201
    )
    for bad in (
        {"message": "x"},
        {"severityLevel": "Error"},
        {"message": "x", "severityLevel": "Fatal"},
        "x",
    ):
        assert api.post("/log", bad).status_code == 400

    stats = {"resourceType": "Activity", "newCount": 0, "updatedCount": 234, "deletedCount": 0}
    assert (
        api.post("/statistics", {**stats, "timeOfOccurance": "2020-04-08T12:51:31.322Z"}).status_code == 201
    )
    assert db.exec(select(FeedbackStatistics)).one().updated_count == 234
    for bad in ({**stats, "newCount": -1}, {**stats, "updatedCount": "2"}, {**stats, "deletedCount": True}):
        assert api.post("/statistics", bad).status_code == 400
    assert (
        api.call("POST", "/log", data=b"x" * (1024 * 1024 + 1), content_type="application/json").status_code
        == 413
    )
