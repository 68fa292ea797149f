"""Odd input on the SS 12000 API is a 400 with {"code", "message"} (or, for a report, kept), never a 500."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from dnp.delivery.models import Subscription
from dnp.ss12000.models import FeedbackLog
from dnp.ss12000.models import FeedbackStatistics
from dnp.ss12000.query import DELETED_FILTERS
from dnp.ss12000.query import LIST_FILTERS
from dnp.ss12000.query import RESOURCES
from tests.helpers import signed_in

TARGET = "https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/4711"
# Valid RFC 3339, but the instant in UTC (or in Swedish time) is outside what datetime can hold.
EXTREME_TIMES = (
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999999+00:00",
)
TIME_FILTERS = [(f"/{kind}", name) for kind in RESOURCES for name in LIST_FILTERS] + [
    ("/deletedEntities", name) for name in DELETED_FILTERS if name != "entities"
]
BODIES = {
    "/log": {"message": "Fel", "severityLevel": "Error", "messageType": "x", "resourceType": "Person"},
    "/statistics": {
        "resourceType": "Person",
        "newCount": 1,
        "updatedCount": 2,
        "deletedCount": 0,
        "description": "synk",
    },
    "/subscriptions": {"name": "Webhook", "target": TARGET, "resourceTypes": [{"resource": "Person"}]},
}
BAD_TEXTS = ("a\u0000b", "a\ud800b", "\udfff")


def assert_json_400(response):
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) >= {"code", "message"} and body["message"]


@pytest.mark.parametrize(("path", "name"), TIME_FILTERS)
def test_time_filters_far_from_now_are_400(api, path, name):
    for value in EXTREME_TIMES:
        assert_json_400(api.call("GET", path, query_string={name: value}))


@pytest.mark.parametrize(("path", "name"), TIME_FILTERS)
def test_time_filters_in_range_still_work(api, path, name):
    for value in ("0001-01-02T00:00:00-10:00", "9999-12-30T00:00:00-12:00"):
        assert api.call("GET", path, query_string={name: value}).status_code == 200


@pytest.mark.parametrize("value", EXTREME_TIMES)
def test_reports_with_extreme_times_are_kept_without_the_time(api, db, value):
    log = {"message": "Fel", "severityLevel": "Warning", "timeOfOccurance": value}
    assert api.post("/log", log).status_code == 201
    stats = {**BODIES["/statistics"], "timeOfOccurance": value}
    assert api.post("/statistics", stats).status_code == 201
    assert api.post("/statistics", {**BODIES["/statistics"], "endDate": value}).status_code == 201
    assert [row.time_of_occurance for row in db.exec(select(FeedbackLog)).all()] == [None]
    assert [row.time_of_occurance for row in db.exec(select(FeedbackStatistics)).all()] == [None, None]


def test_settings_page_shows_reports_from_the_edges_of_time(app, api, client, db):

    for value in ("0001-01-02T00:00:00Z", "9999-12-30T23:59:59Z"):
        log = {"message": "Fel", "severityLevel": "Info", "timeOfOccurance": value}
        assert api.post("/log", log).status_code == 201
    signed_in(client, app, "central@kommun.se", "central_admin")
    assert client.get("/installningar/").status_code == 200


@pytest.mark.parametrize("path", sorted(BODIES))
@pytest.mark.parametrize("depth", [100_000, 5_000, 65])
def test_deeply_nested_json_is_400(api, path, depth):
    nested = "[" * depth + "]" * depth
    for raw in (nested, json.dumps(BODIES[path])[:-1] + f', "extra": {nested}}}'):
        response = api.call("POST", path, data=raw, content_type="application/json")
        assert_json_400(response)


@pytest.mark.parametrize("path", sorted(BODIES))
def test_nan_and_bad_utf8_are_400(api, path):
    for raw in (json.dumps(BODIES[path])[:-1] + ', "x": NaN}', b'{"message": "\xed\xa0\x80"}', b"\xff"):
        assert_json_400(api.call("POST", path, data=raw, content_type="application/json"))


@pytest.mark.parametrize("path", sorted(BODIES))
@pytest.mark.parametrize("bad", BAD_TEXTS)
def test_unstorable_text_anywhere_in_a_body_is_400(api, db, path, bad):
    """NUL and lone surrogates in any string or key of the body (PostgreSQL cannot store them)."""
    body = BODIES[path]
    variants = [{**body, name: value + bad} for name, value in body.items() if isinstance(value, str)]
    variants.append({**body, "extra" + bad: "x"})
    variants.append({**body, "extra": [{"deep": bad}]})
    for variant in variants:
        assert_json_400(api.post(path, variant))
    assert db.exec(select(FeedbackLog)).all() == []
    assert db.exec(select(FeedbackStatistics)).all() == []
    assert db.exec(select(Subscription)).all() == []
    assert api.post(path, body).status_code == 201  # the same body without the odd text is fine


@pytest.mark.parametrize("bad", ["%00", "%ED%A0%80"])
def test_unstorable_text_in_the_url_is_400(api, bad):
    for path in (f"/persons?meta.created.after={bad}", f"/persons/{bad}", f"/subscriptions/{bad}"):
        method = "PATCH" if path.startswith("/subscriptions") else "GET"
        response = api.call(method, path)
        assert response.status_code in (400, 404), path  # 404 for the path, 400 for the filter
        assert set(response.get_json()) >= {"code", "message"}
    assert_json_400(api.call("GET", "/persons?x=a%00b"))


def test_log_with_an_empty_message_is_kept(api, db):
    assert api.post("/log", {"message": "", "severityLevel": "Info"}).status_code == 201
    assert [row.message for row in db.exec(select(FeedbackLog)).all()] == [""]
    assert_json_400(api.post("/log", {"severityLevel": "Info"}))
    assert_json_400(api.post("/log", {"message": None, "severityLevel": "Info"}))


@pytest.mark.parametrize("path", ["/persons", "/deletedEntities"])
@pytest.mark.parametrize(
    "limit",
    ["10001", "999999999", "1000000000", "99999999999999999999", "0000000000000000000010001", "9" * 5000],
)
def test_any_limit_above_the_maximum_is_capped(app, api, path, limit):
    app.config["SS12000_PAGE_MAX"] = 10_000
    assert api.call("GET", path, query_string={"limit": limit}).status_code == 200


@pytest.mark.parametrize("limit", ["0", "000", "-1", "1.5", "", "abc", "\uff11", "\u0661", "+5", " 5"])
def test_limit_that_is_not_a_positive_whole_number_is_400(api, limit):
    assert_json_400(api.call("GET", "/persons", query_string={"limit": limit}))
