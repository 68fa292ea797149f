"""Paging, filters and tokens: every entity exactly once, and every bad query a 400."""

from __future__ import annotations

import json
from collections import Counter
from functools import partial

import pytest

from dnp.ss12000 import reader as page_reader
from dnp.ss12000.query import PageRequest
from dnp.ss12000.reader import PageReader
from tests import factories
from tests.helpers import send
from tests.ss12000.helpers import change_group
from tests.ss12000.helpers import make_group


@pytest.fixture
def published(app, world):
    """Two ready groups: 6 pupils, the teacher, one unit."""
    unit = world.unit["id"]
    return [
        make_group(app, unit, [world.class_a["id"]], staff=[world.teacher["id"]], name="A"),
        make_group(app, unit, [world.class_b["id"]], name="B"),
    ]


def test_pages_return_every_entity_once_in_id_order(api, published):
    page = api.get("/persons", limit=2)
    seen = [p["id"] for p in page["data"]]
    pages = 1
    while page.get("pageToken"):
        page = api.get("/persons", pageToken=page["pageToken"])
        seen += [p["id"] for p in page["data"]]
        pages += 1
    assert len(seen) == 7 and seen == sorted(seen) and len(set(seen)) == 7
    assert pages == 4 and "pageToken" not in page
    # limit comes from the token unless given again
    first = api.get("/persons", limit=3)
    assert len(api.get("/persons", pageToken=first["pageToken"])["data"]) == 3
    assert len(api.get("/persons", pageToken=first["pageToken"], limit=1)["data"]) == 1


def test_pages_while_data_changes(app, api, world, published):
    first = api.get("/persons", limit=3)
    seen = Counter(p["id"] for p in first["data"])
    # Between pages: a pupil's name changes, one leaves, a new class joins, a teacher is renamed.
    stayed = {p["id"] for p in api.all("persons")}
    renamed = sorted(stayed)[-1]
    person = next(
        p for p in world.pupils_a + world.pupils_b + [world.shared, world.teacher] if p["id"] == renamed
    )
    send(api.client, "PUT", "persons", [dict(person, givenName="Ändrad")])
    leaver = world.pupils_b[0]["id"]
    change_group(app, published[1], "remove_member", leaver, "pupil")
    newcomer = factories.person(world.unit["id"])
    send(api.client, "PUT", "persons", [newcomer])
    change_group(app, published[1], "add_pupil", newcomer["id"])

    page = first
    while page.get("pageToken"):
        page = api.get("/persons", pageToken=page["pageToken"])
        seen.update(p["id"] for p in page["data"])
        page_ids = [p["id"] for p in page["data"]]
        if renamed in page_ids:
            assert page["data"][page_ids.index(renamed)]["givenName"] == "Ändrad"
    assert max(seen.values()) == 1
    assert stayed - {leaver} <= set(seen)
    assert set(seen) <= stayed | {newcomer["id"]}


def _ids(part: bytes) -> list[str]:
    return [document["id"] for document in json.loads(b"[" + part + b"]")]


def test_a_page_is_read_in_parts_of_its_own(app, api, published, monkeypatch):
    everyone = [p["id"] for p in api.all("persons")]
    with app.extensions["dnp.engine"].connect() as connection:
        reader = PageReader(connection, PageRequest("Person", {}, everyone[0], 5), part=2)
        parts = [_ids(part) for part in reader.parts()]
        assert parts == [everyone[1:3], everyone[3:5], everyone[5:6]]  # in id order within each part
        assert (reader.count, reader.last, reader.more) == (5, everyone[5], True)
        reader = PageReader(connection, PageRequest("Person", {}, everyone[2], 4), part=2)
        assert [_ids(part) for part in reader.parts()] == [everyone[3:5], everyone[5:7]]
        # A full page offers a next one, as Skolverket's reference server does; that one is empty.
        assert (reader.count, reader.last, reader.more) == (4, everyone[6], True)
        empty = PageReader(connection, PageRequest("Person", {}, everyone[-1], 4), part=2)
        assert list(empty.parts()) == [] and (empty.count, empty.last, empty.more) == (0, None, False)
        short = PageReader(connection, PageRequest("Person", {}, everyone[3], 4), part=2)
        assert [_ids(part) for part in short.parts()] == [everyone[4:6], everyone[6:7]]
        assert (short.count, short.more) == (3, False)
    # The API reading in parts of two: the same pages, the same entities, exactly once.
    monkeypatch.setattr(page_reader, "PageReader", partial(PageReader, part=2))
    page, seen = api.get("/persons", limit=5), []
    while True:
        seen += [p["id"] for p in page["data"]]
        if "pageToken" not in page:
            break
        page = api.get("/persons", pageToken=page["pageToken"])
    assert seen == everyone


@pytest.mark.parametrize(
    "query",
    [
        {"pageToken": "x", "meta.modified.after": "2026-01-01T00:00:00Z"},
        {"meta.modified.after": "2026-01-01"},
        {"meta.modified.after": "2026-01-01T00:00:00"},
        {"meta.created.before": "yesterday"},
        {"meta.modified.before": "2026-13-01T00:00:00Z"},
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "many"},
        {"pageToken": "forged"},
    ],
)
def test_bad_queries_are_400(api, published, query):
    response = api.call("GET", "/persons", query_string=query)
    assert response.status_code == 400
    assert response.get_json()["code"] == "bad_request"


def test_tokens_are_tamper_proof_and_bound_to_their_resource(api, published):
    token = api.get("/persons", limit=1)["pageToken"]
    assert api.call("GET", "/groups", query_string={"pageToken": token}).status_code == 400
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert api.call("GET", "/persons", query_string={"pageToken": tampered}).status_code == 400
    assert (
        api.call("GET", "/persons", query_string={"pageToken": token, "entities": "Person"}).status_code
        == 200
    )


def test_time_filters_are_inclusive_and_carried_by_the_token(api, published):
    persons = api.all("persons")
    moment = min(p["meta"]["created"] for p in persons)
    assert len(api.all("persons", **{"meta.created.after": moment})) == 7
    assert len(api.all("persons", **{"meta.created.before": moment})) >= 1
    assert api.all("persons", **{"meta.created.after": "2999-01-01T00:00:00+01:00"}) == []
    first = api.get("/persons", limit=2, **{"meta.modified.after": "2000-01-01T00:00:00.5+02:00"})
    rest = api.get("/persons", pageToken=first["pageToken"], limit=100)
    assert len(first["data"]) + len(rest["data"]) == 7


def test_limit_is_capped_and_defaulted(app, api, published):
    app.config.update(SS12000_PAGE_DEFAULT=4, SS12000_PAGE_MAX=5)
    assert len(api.get("/persons")["data"]) == 4
    assert len(api.get("/persons", limit=1000)["data"]) == 5


def test_by_id(api, world, published):
    group = api.get(f"/groups/{published[0]}")
    assert group["id"] == published[0] and group["meta"]["created"].endswith("Z")
    missing = api.call("GET", "/groups/0b2c7f0e-0000-4000-8000-000000000001")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"
    assert api.call("GET", "/groups/not-a-uuid").status_code == 400
    # A person is not a group.
    assert api.call("GET", f"/groups/{world.teacher['id']}").status_code == 404


def test_deleted_entities_filters_and_pages(app, api, world, published):
    change_group(app, published[1], "withdraw")
    everything = api.get("/deletedEntities")["data"]
    assert set(everything) == {"groups", "activities", "activitites", "persons"}
    assert len(everything["persons"]) == 2  # class B's own pupils; the shared one stays in A
    only = api.get("/deletedEntities", entities="Group,Activity")["data"]
    assert set(only) == {"groups", "activities", "activitites"}
    assert set(api.get("/deletedEntities", entities=["Person", "Group"])["data"]) == {"persons", "groups"}
    assert api.get("/deletedEntities", after="2999-01-01T00:00:00Z")["data"] == {}
    page = api.get("/deletedEntities", limit=1)
    seen = 1
    while page.get("pageToken"):
        page = api.get("/deletedEntities", pageToken=page["pageToken"])
        seen += sum(len(v) for k, v in page["data"].items() if k != "activitites")
    assert seen == 4
    for bad in ({"entities": "Pupil"}, {"after": "now"}, {"pageToken": "x", "after": "2026-01-01T00:00:00Z"}):
        assert api.call("GET", "/deletedEntities", query_string=bad).status_code == 400


def test_unknown_routes_and_methods(api):
    assert api.client.get("/ss12000/pupils").status_code == 404
    assert api.client.get("/ss12000/pupils").get_json()["code"] == "not_found"
    response = api.client.put("/ss12000/persons")
    assert response.status_code == 405 and response.get_json()["code"] == "method_not_allowed"
    assert api.client.get("/ss12000/subscriptions").status_code == 405
