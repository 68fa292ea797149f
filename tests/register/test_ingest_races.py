"""Parallel writes of the same register rows (a SIS retrying): answered as if they came in turn, never 500.

The threaded tests send real concurrent requests (each its own session and connection); the hooked
tests force the two interleavings that threads only hit sometimes, so the outcome is deterministic.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event
from sqlmodel import Session
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.register.ingest import RegisterIngest
from dnp.register.models import Enrolment
from dnp.register.models import Person
from tests import factories
from tests.helpers import send

PARALLEL = 6


@pytest.fixture
def unit(client):
    org = factories.organisation()
    assert send(client, "PUT", "organisations", [org]).status_code == 201
    return org


def _variant(person: dict, unit_id: str, number: int) -> dict:
    """The same person with a given name and school year that belong together (to check consistency)."""
    enrolment = {"enroledAt": {"id": unit_id}, "schoolType": "GR", "schoolYear": number + 1}
    return {**person, "givenName": f"Namn{number}", "enrolments": [enrolment]}


def _in_parallel(app, method: str, bodies: list[dict]) -> list[int]:
    """Send one request per body at the same moment, each from its own client; their statuses."""
    start = threading.Barrier(len(bodies))
    statuses: list[int | BaseException] = [0] * len(bodies)

    def run(number: int) -> None:
        client = app.test_client()
        start.wait()
        try:
            statuses[number] = send(client, method, "persons", [bodies[number]]).status_code
        except BaseException as error:  # noqa: BLE001 - a 500 in testing mode is raised; report it
            statuses[number] = error

    threads = [threading.Thread(target=run, args=(number,)) for number in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _stored(app, person_id: str) -> tuple[list[Person], list[Enrolment]]:
    with Session(app.extensions["dnp.engine"]) as session:
        persons = list(session.exec(select(Person).where(Person.id == person_id)).all())
        enrolments = list(session.exec(select(Enrolment).where(Enrolment.person_id == person_id)).all())
        return persons, enrolments


def _created_audits(app, person_id: str) -> int:
    with Session(app.extensions["dnp.engine"]) as session:
        query = select(AuditEvent).where(
            AuditEvent.entity_id == person_id, AuditEvent.action == "register.created"
        )
        return len(session.exec(query).all())


@pytest.mark.parametrize("round_", range(3))
def test_parallel_identical_posts_give_one_201_and_the_rest_409(app, unit, round_):
    person = factories.person(unit["id"])
    statuses = _in_parallel(app, "POST", [person] * PARALLEL)
    assert sorted(statuses, key=str) == [201] + [409] * (PARALLEL - 1), statuses
    persons, enrolments = _stored(app, person["id"])
    assert len(persons) == 1 and len(enrolments) == 1
    assert _created_audits(app, person["id"]) == 1


@pytest.mark.parametrize("round_", range(3))
def test_parallel_puts_of_a_new_person_end_in_one_consistent_row(app, unit, round_):
    person = factories.person(unit["id"])
    statuses = _in_parallel(app, "PUT", [_variant(person, unit["id"], n) for n in range(PARALLEL)])
    assert statuses == [201] * PARALLEL, statuses
    [stored], enrolments = _stored(app, person["id"])
    number = int(stored.given_name.removeprefix("Namn"))
    assert [enrolment.school_year for enrolment in enrolments] == [number + 1]


def _competitor(app, method: str, body: dict) -> int:
    """Run a whole request to completion in another thread (its own session) and return its status."""
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(send(app.test_client(), method, "persons", [body]).status_code)
    )
    thread.start()
    thread.join()
    return result[0]


def test_post_that_finds_the_row_committed_after_its_check_is_409(app, client, unit, monkeypatch):
    """Before: the request found the row in its write step and answered 201 "unchanged"."""
    person = factories.person(unit["id"])
    original, competitors = RegisterIngest._write, []

    main = threading.current_thread()

    def write_after_competitor(self, kind, valid):
        if threading.current_thread() is main and not competitors:
            competitors.append(_competitor(app, "POST", person))
        return original(self, kind, valid)

    monkeypatch.setattr(RegisterIngest, "_write", write_after_competitor)
    response = send(client, "POST", "persons", [person])
    assert competitors == [201]
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["errors"][0]["field"] == "id"
    assert len(_stored(app, person["id"])[0]) == 1


@pytest.fixture
def competitor_before_insert(app):
    """Arrange for a competing request to commit just before this request inserts the person row."""
    engine = app.extensions["dnp.engine"]
    arranged: dict = {}

    def before_execute(conn, cursor, statement, parameters, context, executemany):
        insert = statement.lstrip().upper().startswith("INSERT INTO PERSON ")
        if insert and arranged.get("thread") is threading.current_thread() and "status" not in arranged:
            arranged["status"] = _competitor(app, arranged["method"], arranged["body"])

    event.listen(engine, "before_cursor_execute", before_execute)
    yield arranged
    event.remove(engine, "before_cursor_execute", before_execute)


def test_post_whose_insert_meets_a_committed_row_is_409(app, client, unit, competitor_before_insert):
    """Before: the unique violation was a 500."""
    person = factories.person(unit["id"])
    competitor_before_insert.update(thread=threading.current_thread(), method="POST", body=person)
    response = send(client, "POST", "persons", [person])
    assert competitor_before_insert["status"] == 201
    assert response.status_code == 409, response.get_json()
    assert len(_stored(app, person["id"])[0]) == 1
    assert _created_audits(app, person["id"]) == 1


def test_put_whose_insert_meets_a_committed_row_updates_it(app, client, unit, competitor_before_insert):
    """Before: the unique violation was a 500. After: the later PUT wins, row and enrolments alike."""
    person = factories.person(unit["id"])
    first, second = _variant(person, unit["id"], 1), _variant(person, unit["id"], 2)
    competitor_before_insert.update(thread=threading.current_thread(), method="PUT", body=first)
    response = send(client, "PUT", "persons", [second])
    assert competitor_before_insert["status"] == 201
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["updated"]["persons"] == 1
    [stored], enrolments = _stored(app, person["id"])
    assert stored.given_name == "Namn2"
    assert [enrolment.school_year for enrolment in enrolments] == [3]
