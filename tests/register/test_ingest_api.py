"""The ingest API: every valid shape is stored; every bad input is refused and stores nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.register.models import Duty
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import Person
from dnp.register.models import RegisterGroup
from dnp.register.models import RegisterGroupMembership
from tests import factories
from tests.helpers import INGEST_AUTH
from tests.helpers import INGEST_TOKEN
from tests.helpers import send


def count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def unit(client):
    org = factories.organisation()
    assert send(client, "POST", "organisations", [org]).status_code == 201
    return org


def test_post_stores_every_kind_and_audits_with_token_name(client, db, unit):
    pupil = factories.person(unit["id"])
    teacher = factories.person(
        None, emails=[{"value": "larare@example.se", "type": "Skola personal"}], middleName=None
    )
    assert send(client, "POST", "persons", [pupil, teacher]).status_code == 201
    assert send(client, "POST", "duties", [factories.duty(teacher["id"], unit["id"])]).status_code == 201
    response = send(client, "POST", "groups", [factories.group(unit["id"], [pupil["id"]])])
    assert response.status_code == 201
    assert response.get_json()["created"]["groups"] == 1
    assert count(db, Person) == 2
    assert count(db, Enrolment) == 1
    assert count(db, Duty) == 1
    assert count(db, RegisterGroupMembership) == 1
    actors = set(db.exec(select(AuditEvent.actor)).all())
    assert actors == {"ingest:sis"}
    created = db.exec(select(AuditEvent.entity_id).where(AuditEvent.entity_type == "Person")).all()
    assert set(created) == {pupil["id"], teacher["id"]}


def test_all_optional_shapes_are_accepted(client, db, unit):
    pupil = factories.person(
        unit["id"],
        middleName="Maria",
        securityMarking="Skyddad folkbokföring",
        aliasGivenName="Alex",
        aliasFamilyName="Andersson",
        externalIdentifiers=[{"value": "x@eduid.se", "context": "https://eduid.se", "globallyUnique": True}],
        enrolments=[
            {
                "enroledAt": {"id": unit["id"]},
                "schoolType": "GY",
                "educationCode": "NANAT",
                "programme": {"id": factories.organisation()["id"]},
                "specification": "Naturvetenskap",
                "cancelled": False,
                "schoolYear": None,
            }
        ],
        civicNo={"value": "20090127TF12"},
    )
    assert send(client, "PUT", "persons", [pupil]).status_code == 201
    stored = db.get(Person, pupil["id"])
    assert stored.alias_given_name == "Alex"
    assert stored.security_marking == "Skyddad folkbokföring"
    assert stored.civic_no == "20090127TF12"


def test_post_of_existing_id_is_409_and_stores_nothing(client, db, unit):
    pupil = factories.person(unit["id"])
    assert send(client, "POST", "persons", [pupil]).status_code == 201
    other = factories.person(unit["id"])
    response = send(client, "POST", "persons", [other, pupil])
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "conflict"
    assert body["errors"][0]["id"] == pupil["id"]
    assert db.get(Person, other["id"]) is None


def test_put_upserts_and_unchanged_item_keeps_modified(client, db, unit):
    pupil = factories.person(unit["id"])
    assert send(client, "PUT", "persons", [pupil]).status_code == 201
    first = db.get(Person, pupil["id"]).modified
    response = send(client, "PUT", "persons", [pupil])
    assert response.get_json()["unchanged"]["persons"] == 1
    db.expire_all()
    assert db.get(Person, pupil["id"]).modified == first
    changed = {**pupil, "familyName": "Nyttnamn"}
    response = send(client, "PUT", "persons", [changed])
    assert response.get_json()["updated"]["persons"] == 1
    db.expire_all()
    stored = db.get(Person, pupil["id"])
    assert stored.family_name == "Nyttnamn"
    assert stored.modified > first
    assert count(db, Enrolment) == 1


def test_two_persons_may_swap_eppns_in_one_put(client, db, unit):
    a, b = factories.person(unit["id"]), factories.person(unit["id"])
    assert send(client, "PUT", "persons", [a, b]).status_code == 201
    a2 = {**a, "eduPersonPrincipalNames": b["eduPersonPrincipalNames"]}
    b2 = {**b, "eduPersonPrincipalNames": a["eduPersonPrincipalNames"]}
    assert send(client, "PUT", "persons", [a2, b2]).status_code == 201
    db.expire_all()
    assert db.get(Person, a["id"]).eppn == b["eduPersonPrincipalNames"][0]


def test_delete_person_removes_them_from_every_group(client, db, unit):
    pupil, stays = factories.person(unit["id"]), factories.person(unit["id"])
    send(client, "PUT", "persons", [pupil, stays])
    send(client, "PUT", "duties", [factories.duty(pupil["id"], unit["id"])])
    send(client, "PUT", "groups", [factories.group(unit["id"], [pupil["id"], stays["id"]]) for _ in range(2)])
    assert count(db, RegisterGroupMembership) == 4
    response = send(client, "DELETE", "persons", [{"id": pupil["id"]}, {"id": factories.person()["id"]}])
    assert response.status_code == 202
    body = response.get_json()
    assert body["deleted"] == [pupil["id"]]
    assert len(body["notFound"]) == 1
    assert count(db, RegisterGroupMembership) == 2
    assert count(db, Duty) == 0
    assert db.get(Person, pupil["id"]) is None
    deleted = db.exec(select(AuditEvent).where(AuditEvent.action == "register.deleted")).all()
    assert [event.entity_id for event in deleted] == [pupil["id"]]


def test_delete_of_groups_and_duties(client, db, unit):
    pupil = factories.person(unit["id"])
    send(client, "PUT", "persons", [pupil])
    klass = factories.group(unit["id"], [pupil["id"]])
    duty = factories.duty(pupil["id"], unit["id"])
    send(client, "PUT", "groups", [klass])
    send(client, "PUT", "duties", [duty])
    assert send(client, "DELETE", "groups", [{"id": klass["id"]}]).status_code == 202
    assert send(client, "DELETE", "duties", [{"id": duty["id"]}]).status_code == 202
    assert count(db, RegisterGroup) == 0
    assert count(db, RegisterGroupMembership) == 0
    assert count(db, Duty) == 0
    assert db.get(Person, pupil["id"]) is not None


def test_delete_of_organisation_in_use_is_refused(client, db, unit):
    send(client, "PUT", "persons", [factories.person(unit["id"])])
    response = send(client, "DELETE", "organisations", [{"id": unit["id"]}])
    assert response.status_code == 400
    assert "inskrivningar" in response.get_json()["errors"][0]["message"]
    assert db.get(Organisation, unit["id"]) is not None
    empty = factories.organisation()
    send(client, "PUT", "organisations", [empty])
    assert send(client, "DELETE", "organisations", [{"id": empty["id"]}]).status_code == 202
    assert db.get(Organisation, empty["id"]) is None


def _rejected(client, db, method, kind, items, expect_field, expect_text=None, status=400):
    before = count(db, Person) + count(db, Organisation) + count(db, Duty) + count(db, RegisterGroup)
    audits = count(db, AuditEvent)
    response = send(client, method, kind, items)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["errors"], body
    fields = [error["field"] for error in body["errors"]]
    assert any(expect_field == field for field in fields), body["errors"]
    if expect_text:
        assert any(expect_text in error["message"] for error in body["errors"]), body["errors"]
    after = count(db, Person) + count(db, Organisation) + count(db, Duty) + count(db, RegisterGroup)
    assert after == before
    assert count(db, AuditEvent) == audits
    return body


def test_wrong_types_are_listed_per_item_and_nothing_is_stored(client, db, unit):
    good = factories.person(unit["id"])
    bad = factories.person(unit["id"], givenName=42)
    body = _rejected(client, db, "PUT", "persons", [good, bad], "givenName", "fel typ")
    assert body["errors"][0]["index"] == 1
    assert body["errors"][0]["id"] == bad["id"]
    assert body["errors"][0]["entity"] == "Person"


def test_every_problem_is_listed_not_just_the_first(client, db, unit):
    items = [
        factories.person(unit["id"], civicNo={"value": "19990101-1234"}),
        factories.person(unit["id"], securityMarking="Hemlig"),
        factories.person(unit["id"], eduPersonPrincipalNames=[]),
    ]
    body = _rejected(client, db, "PUT", "persons", items, "civicNo.value")
    assert body["errorCount"] == 3
    assert {error["index"] for error in body["errors"]} == {0, 1, 2}


@pytest.mark.parametrize(
    ("kind", "override", "field", "text"),
    [
        ("persons", {"securityMarking": "Hemlig"}, "securityMarking", "okänt värde"),
        ("persons", {"emails": [{"value": "a@b.se", "type": "Jobb"}]}, "emails.0.type", "okänd e-posttyp"),
        ("persons", {"eduPersonPrincipalNames": ["a@b.se", "c@d.se"]}, "eduPersonPrincipalNames", "exakt en"),
        ("persons", {"eduPersonPrincipalNames": ["inte-en-eppn"]}, "eduPersonPrincipalNames.0", "EPPN"),
        ("persons", {"civicNo": {"value": "201105011235"}}, "civicNo.value", "personnummer"),
        ("persons", {"civicNo": {"value": "20110501-1234"}}, "civicNo.value", "personnummer"),
        ("persons", {"civicNo": {"value": "20111301TF12"}}, "civicNo.value", "personnummer"),
        ("persons", {"id": "not-a-uuid"}, "id", "uuid"),
        ("persons", {"givenName": "Nul\x00l"}, "givenName", "kontrolltecken"),
        ("persons", {"familyName": "x" * 600}, "familyName", "längre än"),
        ("persons", {"enrolments": [{"schoolType": "GR", "schoolYear": 9}]}, "enrolments.0", "enroledAt"),
    ],
)
def test_person_rules(client, db, unit, kind, override, field, text):
    _rejected(client, db, "PUT", kind, [factories.person(unit["id"], **override)], field, text)


def test_missing_required_field(client, db, unit):
    pupil = factories.person(unit["id"])
    del pupil["civicNo"]
    _rejected(client, db, "PUT", "persons", [pupil], "", "civicNo")


def test_gr_enrolment_needs_school_year(client, db, unit):
    pupil = factories.person(unit["id"], enrolments=[{"enroledAt": {"id": unit["id"]}, "schoolType": "GR"}])
    _rejected(client, db, "PUT", "persons", [pupil], "enrolments.0", "schoolYear")


def test_unknown_school_type_and_duty_role_and_group_type(client, db, unit):
    pupil = factories.person(unit["id"])
    send(client, "PUT", "persons", [pupil])
    bad_enrolment = [{"enroledAt": {"id": unit["id"]}, "schoolType": "XX"}]
    _rejected(
        client, db, "PUT", "persons", [factories.person(enrolments=bad_enrolment)], "enrolments.0.schoolType"
    )
    _rejected(
        client, db, "PUT", "duties", [factories.duty(pupil["id"], unit["id"], dutyRole="Kung")], "dutyRole"
    )
    _rejected(client, db, "PUT", "groups", [factories.group(unit["id"], [], groupType="Lag")], "groupType")


def test_dangling_references(client, db, unit):
    ghost = factories.person()["id"]
    nowhere = factories.organisation()["id"]
    _rejected(client, db, "PUT", "duties", [factories.duty(ghost, unit["id"])], "person.id", "finns inte")
    pupil = factories.person(nowhere)
    _rejected(client, db, "PUT", "persons", [pupil], "enrolments.0.enroledAt.id", "finns inte")
    _rejected(
        client, db, "PUT", "groups", [factories.group(unit["id"], [ghost])], "groupMemberships.0.person.id"
    )
    _rejected(client, db, "PUT", "groups", [factories.group(nowhere, [])], "organisation.id")


def test_duplicate_ids_and_eppns(client, db, unit):
    pupil = factories.person(unit["id"])
    _rejected(client, db, "PUT", "persons", [pupil, pupil], "id", "flera gånger")
    twin = factories.person(unit["id"], eduPersonPrincipalNames=pupil["eduPersonPrincipalNames"])
    _rejected(client, db, "PUT", "persons", [pupil, twin], "eduPersonPrincipalNames", "i indata")
    assert send(client, "PUT", "persons", [pupil]).status_code == 201
    body = _rejected(
        client, db, "PUT", "persons", [twin], "eduPersonPrincipalNames", "i registret", status=409
    )
    assert body["code"] == "conflict"


def test_eppns_that_differ_only_in_letter_case_are_the_same_eppn(client, db, unit):
    # The scope is a domain and sign-in folds case: two such EPPNs would be one login for two persons.
    pupil = factories.person(unit["id"], eduPersonPrincipalNames=["Anna.B@Skola.Example.se"])
    twin = factories.person(unit["id"], eduPersonPrincipalNames=["anna.b@skola.example.SE"])
    _rejected(client, db, "PUT", "persons", [pupil, twin], "eduPersonPrincipalNames", "i indata")
    assert send(client, "PUT", "persons", [pupil]).status_code == 201
    body = _rejected(
        client, db, "POST", "persons", [twin], "eduPersonPrincipalNames", "i registret", status=409
    )
    assert "anna.b@skola.example.SE" in json.dumps(body)  # the value as sent, not folded
    # The holder itself may change the letter case of its own EPPN.
    recased = {**pupil, "eduPersonPrincipalNames": ["anna.b@skola.example.se"]}
    assert send(client, "PUT", "persons", [recased]).status_code == 201


def test_school_unit_code_rules(client, db, unit):
    _rejected(
        client, db, "PUT", "organisations", [factories.organisation("1234")], "schoolUnitCode", "8 siffror"
    )
    clash = {**factories.organisation(), "schoolUnitCode": unit["schoolUnitCode"]}
    _rejected(client, db, "PUT", "organisations", [clash], "schoolUnitCode", "i registret", status=409)


def test_huvudman_needs_organisation_number_not_school_unit_code(client, db):
    huvudman = {
        "id": factories.organisation()["id"],
        "organisationType": "Huvudman",
        "displayName": "Kommunen",
    }
    _rejected(client, db, "PUT", "organisations", [huvudman], "organisationNumber")
    huvudman["organisationNumber"] = "2120001234"
    assert send(client, "PUT", "organisations", [huvudman]).status_code == 201


@pytest.mark.parametrize(
    ("raw", "code", "status"),
    [
        (b'{"persons": [', "bad_request", 400),
        (b"\xff\xfe", "bad_request", 400),
        (b'[{"id": 1}]', "bad_request", 400),
        (b'{"persons": []}', "bad_request", 400),
        (b'{"persons": {"id": 1}}', "bad_request", 400),
        (b'{"persons": [1, "x"]}', "validation_failed", 400),
        (b'{"groups": []}', "bad_request", 400),
    ],
)
def test_malformed_bodies(client, db, raw, code, status):
    response = send(client, "PUT", "persons", None, raw=raw)
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == code
    assert body["message"]
    assert count(db, Person) == 0


def test_oversized_body_is_413(client, db, unit):
    items = [factories.person(unit["id"]) for _ in range(1000)]
    response = send(client, "PUT", "persons", items)
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"
    assert count(db, Person) == 0


def test_wrong_content_type_is_415(client, unit):
    response = client.put("/ingest/persons", data="persons=1", headers=INGEST_AUTH, content_type="text/plain")
    assert response.status_code == 415


def test_hostile_strings_are_stored_verbatim(client, db, unit):
    script = "<script>alert('x')</script>'; DROP TABLE person; --"
    pupil = factories.person(unit["id"], givenName=script)
    assert send(client, "PUT", "persons", [pupil]).status_code == 201
    assert db.get(Person, pupil["id"]).given_name == script


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {INGEST_TOKEN}"},
        {"Authorization": "Bearer "},
    ],
)
def test_token_is_required(app, db, headers):
    client = app.test_client()
    response = client.put("/ingest/persons", json={"persons": [factories.person()]}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    assert count(db, Person) == 0


def test_ingest_is_off_without_a_token(app):
    app.config["INGEST_TOKEN"] = None
    response = app.test_client().put("/ingest/persons", json={"persons": []}, headers=INGEST_AUTH)
    assert response.status_code == 403
    assert response.get_json()["code"] == "ingest_disabled"


def test_unknown_kind_and_method_are_json_errors(client):
    response = send(client, "PUT", "activities", [{}])
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
    response = client.get("/ingest/persons", headers=INGEST_AUTH)
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"


def test_session_cookie_is_not_a_credential(app, client):
    with client.session_transaction() as session:
        session["_user_id"] = "someone"
    response = client.put("/ingest/persons", json={"persons": [factories.person()]})
    assert response.status_code == 401


FULL_WIDTH_CIVIC = "".join(chr(0xFF10 + int(digit)) for digit in "201106060112")


@pytest.mark.parametrize(
    ("override", "field", "text"),
    [
        ({"civicNo": {"value": "201106060112\n"}}, "civicNo.value", "kontrolltecken"),
        ({"civicNo": {"value": FULL_WIDTH_CIVIC}}, "civicNo.value", "personnummer"),
        ({"civicNo": {"value": "201106060112\t"}}, "civicNo.value", "kontrolltecken"),
        ({"eduPersonPrincipalNames": ["elev@skola.se\n"]}, "eduPersonPrincipalNames.0", "kontrolltecken"),
        ({"eduPersonPrincipalNames": ["el\tev@skola.se"]}, "eduPersonPrincipalNames.0", "kontrolltecken"),
        ({"eduPersonPrincipalNames": ["elev@skola\u2024se"]}, "eduPersonPrincipalNames.0", "EPPN"),
        ({"eduPersonPrincipalNames": ["el\u200bev@skola.se"]}, "eduPersonPrincipalNames.0", "kontrolltecken"),
        ({"emails": [{"value": "a@b.se\r\n", "type": "Privat"}]}, "emails.0.value", "kontrolltecken"),
        ({"externalIdentifiers": [{"value": "x\ny", "context": "c"}]}, "externalIdentifiers.0.value", None),
    ],
)
def test_identifiers_refuse_newlines_controls_and_non_ascii_digits(client, db, unit, override, field, text):
    _rejected(client, db, "PUT", "persons", [factories.person(unit["id"], **override)], field, text)


def test_ids_and_codes_refuse_a_trailing_newline(client, db, unit):
    pupil = factories.person(unit["id"])
    pupil["id"] += "\n"
    _rejected(client, db, "PUT", "persons", [pupil], "id", "kontrolltecken")
    enrolments = [{"enroledAt": {"id": unit["id"] + "\n"}, "schoolType": "GR"}]
    reference = factories.person(None, enrolments=enrolments)
    _rejected(client, db, "PUT", "persons", [reference], "enrolments.0.enroledAt.id", "uuid")
    code = FULL_WIDTH_CIVIC[:8]
    wide = [factories.organisation(code)]
    _rejected(client, db, "PUT", "organisations", wide, "schoolUnitCode", "8 siffror")
    _rejected(
        client, db, "PUT", "organisations", [factories.organisation("12345678\n")], "schoolUnitCode", None
    )


def test_schema_and_rule_problems_of_one_item_are_all_listed(client, db, unit):
    pupil = factories.person(
        unit["id"], enrolments=[{"enroledAt": {"id": unit["id"]}, "schoolType": "XX", "schoolYear": 9}]
    )
    del pupil["familyName"]
    body = _rejected(client, db, "PUT", "persons", [pupil], "enrolments.0.schoolType", "okänd skolform")
    assert any("familyName" in error["message"] for error in body["errors"]), body["errors"]
    assert body["errorCount"] == 2


def test_rules_survive_items_of_the_wrong_shape(client, db, unit):
    pupil = factories.person(
        unit["id"], civicNo="201106060112", emails=["a@b.se"], eduPersonPrincipalNames="x"
    )
    pupil["groupMemberships"] = "nope"
    body = _rejected(client, db, "PUT", "persons", [pupil], "civicNo", "fel typ")
    assert {"eduPersonPrincipalNames", "emails.0"} <= {error["field"] for error in body["errors"]}
