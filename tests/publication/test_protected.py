"""Canary protected persons: their real names and civic numbers never leave, whatever the setting."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.auth.roles import Access
from dnp.common.civic import make_civic_number
from dnp.publication.changes import change_protected_mode
from dnp.publication.changes import set_protected_mode
from dnp.publication.models import Outbox
from dnp.publication.settings import protected_mode
from tests import factories
from tests.helpers import send
from tests.ss12000.helpers import change_group
from tests.ss12000.helpers import make_group
from tests.ss12000.helpers import session_for
from tests.ss12000.helpers import snapshot

REAL = ("Kanariefågel", "Hemligsson", "Sekretessa", "Dolda")
PUPIL_CIVIC = make_civic_number(date(2011, 5, 5), 238)
STAFF_CIVIC = make_civic_number(date(1980, 3, 3), 239)


@pytest.fixture
def canaries(client, world):
    """A protected pupil and a protected teacher at the unit, with alias names."""
    unit = world.unit["id"]
    pupil = factories.person(
        unit,
        givenName=REAL[0],
        familyName=REAL[1],
        civicNo={"value": PUPIL_CIVIC, "nationality": "SE"},
        emails=[
            {"value": "kanariefagel.hemligsson@elev.example.se", "type": "Skola elev"},
            {"value": "e9911@elev.example.se", "type": "Skola elev"},
        ],
        securityMarking="Skyddad folkbokföring",
        aliasGivenName="Alva",
        aliasFamilyName="Aliasson",
        middleName="Mellan",
    )
    teacher = factories.person(
        None,
        givenName=REAL[2],
        familyName=REAL[3],
        civicNo={"value": STAFF_CIVIC, "nationality": "SE"},
        emails=[{"value": "p7781@personal.example.se", "type": "Skola personal"}],
        securityMarking="Sekretessmarkering",
        aliasGivenName="Tor",
        aliasFamilyName="Täcknamn",
    )
    assert send(client, "PUT", "persons", [pupil, teacher]).status_code == 201
    assert send(client, "PUT", "duties", [factories.duty(teacher["id"], unit)]).status_code == 201
    return pupil, teacher


def every_response(api, group_id, pupil, teacher) -> list[str]:
    """The text of everything the API answers about the group and the canaries."""
    texts = []
    for kind in ("organisations", "persons", "groups", "duties", "activities"):
        page = api.call("GET", f"/{kind}", query_string={"limit": 1})
        texts.append(page.get_data(as_text=True))
        while token := page.get_json().get("pageToken"):
            page = api.call("GET", f"/{kind}", query_string={"pageToken": token})
            texts.append(page.get_data(as_text=True))
    for path in (f"/persons/{pupil['id']}", f"/persons/{teacher['id']}", f"/groups/{pupil['id']}"):
        texts.append(api.call("GET", path).get_data(as_text=True))
    texts.append(api.call("GET", "/deletedEntities").get_data(as_text=True))
    return texts


def assert_no_leak(texts: list[str], civics=(PUPIL_CIVIC, STAFF_CIVIC)) -> None:
    for text in texts:
        for secret in REAL + tuple(civics) + ("kanariefagel", "Mellan"):
            assert secret.lower() not in text.lower(), f"{secret} leaked: {text[:300]}"


def test_alias_mode_sends_no_real_name_or_number_anywhere(app, api, world, canaries, caplog, db):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # statements, parameters and fetched rows
    pupil, teacher = canaries
    with session_for(app) as session:
        set_protected_mode("central@kommun.se", "alias", session=session)
    group_id = make_group(app, world.unit["id"], [world.class_a["id"]], [pupil["id"]], [teacher["id"]])

    alva = api.get(f"/persons/{pupil['id']}")
    assert (alva["givenName"], alva["familyName"], alva["securityMarking"]) == ("Alva", "Aliasson", "Ingen")
    assert alva["civicNo"]["value"][8] == "T" and alva["emails"] == [pupil["emails"][1]]
    assert "middleName" not in alva
    tor = api.get(f"/persons/{teacher['id']}")
    assert (tor["givenName"], tor["securityMarking"]) == ("Tor", "Ingen")

    texts = every_response(api, group_id, pupil, teacher)
    change_group(app, group_id, "remove_member", pupil["id"], "pupil")
    texts += every_response(api, group_id, pupil, teacher)
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr((e.before, e.after, e.entity_id)) for e in db.exec(select(AuditEvent)).all()]
    texts += [repr((o.resource, o.entity_id, o.change)) for o in db.exec(select(Outbox)).all()]
    assert_no_leak(texts)


def test_marked_mode_sends_the_marking_and_alias_names(app, api, world, canaries, caplog):
    caplog.set_level(logging.DEBUG)
    pupil, teacher = canaries
    group_id = make_group(app, world.unit["id"], [], [pupil["id"]], [teacher["id"]])
    alva = api.get(f"/persons/{pupil['id']}")
    assert (alva["givenName"], alva["familyName"]) == ("Alva", "Aliasson")
    assert alva["securityMarking"] == "Skyddad folkbokföring"
    # Skolverket pseudonymises from the real number; only the names are kept from it.
    assert alva["civicNo"]["value"] == PUPIL_CIVIC
    texts = every_response(api, group_id, pupil, teacher) + [r.getMessage() for r in caplog.records]
    assert_no_leak(texts, civics=())


def test_changing_the_setting_republishes_only_protected_persons(app, api, world, canaries):
    pupil, teacher = canaries
    make_group(app, world.unit["id"], [world.class_a["id"]], [pupil["id"]], [teacher["id"]])
    before = snapshot(app)
    with session_for(app) as session:
        counts = set_protected_mode("central@kommun.se", "alias", session=session)
    assert counts == {"Person.modified": 2}
    after = snapshot(app)
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {("Person", pupil["id"]), ("Person", teacher["id"])}
    assert api.get(f"/persons/{pupil['id']}")["securityMarking"] == "Ingen"
    with session_for(app) as session:
        assert set_protected_mode("central@kommun.se", "alias", session=session) == {}  # no change, no write
        # What the settings page says: the number of protected persons sent again.
        unit_admin = Access(eppn="unit@kommun.se", unit_ids=frozenset({"u"}))
        with pytest.raises(PermissionError):  # the service checks the role too, not only the view
            change_protected_mode(unit_admin, "marked", session=session)
        assert protected_mode(session=session) == "alias"
        central = Access(eppn="central@kommun.se", central_admin=True)
        assert change_protected_mode(central, "marked", session=session) == 2


@pytest.fixture
def failing_person_insert(app):
    """Make the database itself refuse to store the canary (a real error from the server, both backends)."""
    engine = app.extensions["dnp.engine"]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # PostgreSQL answers a CHECK violation with ``DETAIL: Failing row contains (…)``: the whole row.
            connection.exec_driver_sql(
                "ALTER TABLE person ADD CONSTRAINT canary_refused"
                " CHECK (security_marking <> 'Sekretessmarkering')"
            )
        else:
            connection.exec_driver_sql(
                "CREATE TRIGGER canary_refused BEFORE INSERT ON person"
                " WHEN NEW.security_marking = 'Sekretessmarkering'"
                " BEGIN SELECT RAISE(ABORT, 'canary refused'); END"
            )
    yield
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE person DROP CONSTRAINT canary_refused")
        else:
            connection.exec_driver_sql("DROP TRIGGER canary_refused")


def _everything_logged(records) -> list[str]:
    formatter = logging.Formatter()
    texts = []
    for record in records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))  # with the chained driver error
    return texts


def test_a_database_error_during_ingest_logs_and_answers_no_register_value(
    app, client, db, world, caplog, failing_person_insert
):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answered as in production: logged, then a 500
    for name in ("", "sqlalchemy", "sqlalchemy.engine", "werkzeug", "flask", "dnp"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    canary = factories.person(
        world.unit["id"],
        givenName=REAL[2],
        familyName=REAL[3],
        civicNo={"value": STAFF_CIVIC, "nationality": "SE"},
        eduPersonPrincipalNames=["p7781@personal.example.se"],
        securityMarking="Sekretessmarkering",
        aliasGivenName="Tor",
        aliasFamilyName="Täcknamn",
    )
    response = send(client, "POST", "persons", [canary])

    assert response.status_code == 500
    assert response.get_json()["code"] == "internal_error"
    texts = _everything_logged(caplog.records) + [response.get_data(as_text=True)]
    # The error did reach the log (else the test proves nothing), and the statement ran with parameters.
    assert any("IntegrityError" in text for text in texts), texts
    assert any("INSERT INTO person" in text for text in texts)
    for text in texts:
        for secret in (REAL[2], REAL[3], STAFF_CIVIC, STAFF_CIVIC[2:], "Täcknamn", "p7781@"):
            assert secret.lower() not in text.lower(), f"{secret} leaked: {text[:400]}"


def test_ingest_audits_protected_persons_by_id_only(db, canaries):
    pupil, teacher = canaries
    events = db.exec(select(AuditEvent).where(AuditEvent.entity_type == "Person")).all()
    assert {pupil["id"], teacher["id"]} <= {event.entity_id for event in events}
    texts = [repr((e.actor, e.action, e.entity_id, e.before, e.after)) for e in events]
    assert_no_leak(texts)
