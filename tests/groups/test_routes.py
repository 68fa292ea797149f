"""The group pages over HTTP: full page or fragment, errors in place, background tasks."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlmodel import select

from dnp.groups.models import BackgroundTask
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from tests import factories
from tests.groups_fixtures import MA9
from tests.helpers import csrf_token
from tests.helpers import send
from tests.helpers import signed_in

ADMIN = "rektor@kommun.se"


@pytest.fixture
def admin(app, client, world):
    return signed_in(client, app, ADMIN, "unit_admin", [world.unit["id"]])


def _create(admin, world, **form):
    data = {
        "activity_id": MA9,
        "term": "VT 2027",
        "name": "",
        "register_group_ids": [world.class_a["id"], world.class_b["id"]],
        "follow": "1",
    }
    data.update(form)
    return admin.post(
        f"/provgrupper/enheter/{world.unit['id']}/ny", data=data, headers={"X-CSRFToken": csrf_token(admin)}
    )


def test_deleting_a_draft_says_so_once(admin, world, db):
    _create(admin, world)
    group = db.exec(select(TestGroup)).one()
    response = admin.post(f"/provgrupper/{group.id}/ta-bort", headers={"X-CSRFToken": csrf_token(admin)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/enheter/{world.unit['id']}")
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert '<p class="flash success" role="status">Utkastet är borttaget.</p>' in page
    # A flash, not a query string: reloading the page does not say it again.
    assert "Utkastet är borttaget." not in admin.get(response.headers["Location"]).get_data(as_text=True)


def test_create_redirects_to_editor_and_editor_fragments(admin, world, db):
    response = _create(admin, world)
    assert response.status_code == 303
    group = db.exec(select(TestGroup)).one()
    assert response.headers["Location"].endswith(f"/provgrupper/{group.id}")
    page = admin.get(f"/provgrupper/{group.id}")
    assert "<html" in page.get_data(as_text=True) and "HX-Request" in page.headers["Vary"]
    fragment = admin.get(f"/provgrupper/{group.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and 'id="editor"' in fragment
    assert "Kontroll mot Skolverkets regler" in fragment


def test_htmx_create_loads_the_editor_as_a_whole_page(admin, world):
    # Not HX-Location: htmx would fetch the editor as an HTMX request, get its fragment and make it the page.
    response = admin.post(
        f"/provgrupper/enheter/{world.unit['id']}/ny",
        data={"activity_id": MA9, "term": "VT 2027", "register_group_ids": [world.class_a["id"]]},
        headers={"X-CSRFToken": csrf_token(admin), "HX-Request": "true"},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/provgrupper/")
    assert "HX-Location" not in response.headers


def test_bad_create_is_422_with_the_reason_in_place(admin, world, db):
    response = _create(admin, world, activity_id="")
    assert response.status_code == 422
    assert "Välj ett nationellt prov" in response.get_data(as_text=True)
    assert db.exec(select(TestGroup)).first() is None


def test_preview_merges_and_flags(admin, world):
    body = admin.post(
        f"/provgrupper/enheter/{world.unit['id']}/forhandsvisning",
        data={"activity_id": MA9, "register_group_ids": [world.class_a["id"], world.class_b["id"]]},
        headers={"X-CSRFToken": csrf_token(admin), "HX-Request": "true"},
    ).get_data(as_text=True)
    assert "6 elever" in body  # 4 + 3 with one pupil in both classes


def test_editor_changes_rerender_and_refusals_are_422(admin, world, db):
    _create(admin, world)
    group = db.exec(select(TestGroup)).one()
    headers = {"X-CSRFToken": csrf_token(admin), "HX-Request": "true"}
    added = admin.post(
        f"/provgrupper/{group.id}/personal", data={"person_id": world.teacher["id"]}, headers=headers
    )
    assert added.status_code == 200 and "Personal är tillagd" in added.get_data(as_text=True)
    refused = admin.post(
        f"/provgrupper/{group.id}/personal", data={"person_id": world.pupils_a[0]["id"]}, headers=headers
    )
    assert refused.status_code == 422 and "tjänstgöring" in refused.get_data(as_text=True)
    foreign = admin.post(
        f"/provgrupper/{group.id}/elever", data={"person_id": world.other_pupil["id"]}, headers=headers
    )
    assert foreign.status_code == 404
    renamed = admin.post(f"/provgrupper/{group.id}/namn", data={"name": "<b>Fet</b>"}, headers=headers)
    assert "&lt;b&gt;Fet&lt;/b&gt;" in renamed.get_data(as_text=True)
    confirm = admin.get(f"/provgrupper/{group.id}/klar", headers=headers).get_data(as_text=True)
    assert "6</strong> elever och <strong>1</strong> personal" in confirm
    ready = admin.post(f"/provgrupper/{group.id}/klar", headers=headers)
    assert "klar att skicka" in ready.get_data(as_text=True)
    db.refresh(group)
    assert group.status == "ready"
    plain = admin.post(f"/provgrupper/{group.id}/dra-tillbaka", headers={"X-CSRFToken": csrf_token(admin)})
    assert plain.status_code == 303  # without JavaScript: back to the page, with a message
    assert "tillbakadragen" in admin.get(plain.headers["Location"]).get_data(as_text=True)


def test_search_never_by_civic_number(admin, world, db):
    _create(admin, world, register_group_ids=[])
    group = db.exec(select(TestGroup)).one()
    pupil = world.pupils_a[0]
    by_class = admin.get(f"/provgrupper/{group.id}/sok-elever?q=9a", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    # Every pupil of 9A (an EPPN with "9a" in its random part may come along too).
    class_a = world.pupils_a + [world.shared]
    assert all(f"{p['givenName']} {p['familyName']}</span>" in by_class for p in class_a)
    by_eppn = admin.get(
        f"/provgrupper/{group.id}/sok-elever?q={pupil['eduPersonPrincipalNames'][0][:9]}"
    ).get_data(as_text=True)
    assert pupil["familyName"] in by_eppn
    by_civic = admin.get(f"/provgrupper/{group.id}/sok-elever?q={pupil['civicNo']['value']}").get_data(
        as_text=True
    )
    assert pupil["familyName"] not in by_civic


def test_bulk_per_class_runs_as_a_task(app, admin, world, db):
    app.config["JOBS_INLINE"] = True
    response = admin.post(
        f"/provgrupper/enheter/{world.unit['id']}/per-klass",
        data={"activity_id": MA9, "term": "VT 2027"},
        headers={"X-CSRFToken": csrf_token(admin)},
    )
    assert response.status_code == 200
    task = db.exec(select(BackgroundTask)).one()
    assert task.status == "done" and "2 provgrupper" in task.message
    assert {g.display_name for g in db.exec(select(TestGroup)).all()} == {"MA åk 9 9A", "MA åk 9 9B"}
    status = admin.get(f"/provgrupper/uppgifter/{task.id}", headers={"HX-Request": "true"})
    assert status.status_code == 286  # finished: htmx stops polling
    members = db.exec(select(TestGroupMember)).all()
    assert len(members) == 7  # 9A: 3 + the shared pupil, 9B: 2 + the shared pupil


REFUSED_BULK = [{"activity_id": MA9, "term": "VT 2020"}, {"activity_id": "nej", "term": "VT 2027"}]


@pytest.mark.parametrize("form", REFUSED_BULK)
def test_bulk_per_class_refuses_a_past_term_or_unknown_test(admin, world, db, form):
    url = f"/provgrupper/enheter/{world.unit['id']}/per-klass"
    response = admin.post(url, data=form, headers={"X-CSRFToken": csrf_token(admin)})
    assert response.status_code == 422 and "Välj prov och termin." in response.get_data(as_text=True)
    assert db.exec(select(BackgroundTask)).all() == []  # nothing queued, nothing audited as started


# A protected pupil whose real family name sorts first and whose alias sorts last, with an EPPN made of
# the real name (what Skolverket flags with warning 3047).
REAL_GIVEN, REAL_FAMILY = "Kanariezq", "Aafågelzq"
NAME_EPPN = "kanariezq.aafagelzq@elev.example.se"


@pytest.fixture
def protected_pupil(client, world):
    """The canary, in class 9A at the unit, and a protected teacher with a name EPPN too."""
    pupil = factories.person(
        world.unit["id"],
        givenName=REAL_GIVEN,
        familyName=REAL_FAMILY,
        eduPersonPrincipalNames=[NAME_EPPN],
        emails=[{"value": "e5531@elev.example.se", "type": "Skola elev"}],
        securityMarking="Skyddad folkbokföring",
        aliasGivenName="Zara",
        aliasFamilyName="Zzalias",
    )
    teacher = factories.person(
        None,
        givenName="Hemligzq",
        familyName="Lärarzq",
        eduPersonPrincipalNames=["hemligzq.lararzq@personal.example.se"],
        emails=[{"value": "p5532@personal.example.se", "type": "Skola personal"}],
        securityMarking="Sekretessmarkering",
        aliasGivenName="Tove",
        aliasFamilyName="Täcke",
    )
    assert send(client, "PUT", "persons", [pupil, teacher]).status_code == 201
    assert send(client, "PUT", "duties", [factories.duty(teacher["id"], world.unit["id"])]).status_code == 201
    members = [p["id"] for p in world.pupils_a] + [world.shared["id"], pupil["id"]]
    class_a = {**world.class_a, "groupMemberships": [{"person": {"id": i}} for i in members]}
    assert send(client, "PUT", "groups", [class_a]).status_code == 201
    return pupil, teacher


def _assert_hidden(body: str) -> None:
    for secret in (REAL_GIVEN, REAL_FAMILY, "aafagelzq", NAME_EPPN, "hemligzq", "Lärarzq"):
        assert secret.lower() not in body.lower(), secret


def test_a_protected_persons_name_eppn_blocks_ready_and_is_never_shown(admin, world, db, protected_pupil):
    pupil, teacher = protected_pupil
    _create(admin, world, register_group_ids=[world.class_a["id"]])
    group = db.exec(select(TestGroup)).one()
    headers = {"X-CSRFToken": csrf_token(admin), "HX-Request": "true"}
    admin.post(f"/provgrupper/{group.id}/personal", data={"person_id": teacher["id"]}, headers=headers)

    page = admin.get(f"/provgrupper/{group.id}").get_data(as_text=True)
    _assert_hidden(page)
    assert "Zara Zzalias" in page and "Tove Täcke" in page
    assert page.count("EPPN dold – innehåller namnet") == 2
    assert "EPPN utan namn" in page and "skyddad identitet men EPPN innehåller det riktiga namnet" in page

    refused = admin.post(f"/provgrupper/{group.id}/klar", headers=headers)
    assert refused.status_code == 422
    _assert_hidden(refused.get_data(as_text=True))
    db.refresh(group)
    assert group.status == "draft"

    # The SIS hands out name-free EPPNs: the same group may now be sent.
    fixed = [
        {**pupil, "eduPersonPrincipalNames": ["e5531@elev.example.se"]},
        {**teacher, "eduPersonPrincipalNames": ["p5532@personal.example.se"]},
    ]
    assert send(admin, "PUT", "persons", fixed).status_code == 201
    assert admin.post(f"/provgrupper/{group.id}/klar", headers=headers).status_code == 200
    db.refresh(group)
    assert group.status == "ready"
    assert "e5531@elev.example.se" in admin.get(f"/provgrupper/{group.id}").get_data(as_text=True)


def test_a_protected_person_is_not_found_by_real_name_or_name_eppn(admin, world, db, protected_pupil):
    _create(admin, world, register_group_ids=[])
    group = db.exec(select(TestGroup)).one()

    def pupils(query: str) -> str:
        return admin.get(f"/provgrupper/{group.id}/sok-elever", query_string={"q": query}).get_data(
            as_text=True
        )

    def staff(query: str) -> str:
        return admin.get(f"/provgrupper/{group.id}/sok-personal", query_string={"q": query}).get_data(
            as_text=True
        )

    for query in (REAL_GIVEN, REAL_FAMILY, "aafagelzq", NAME_EPPN, "kanariezq.aa"):
        assert "Zzalias" not in pupils(query), query
    for query in ("Hemligzq", "lararzq", "hemligzq.lararzq@personal"):
        assert "Täcke" not in staff(query), query
    assert "Zara Zzalias" in pupils("zzalias") and "Tove Täcke" in staff("täcke")
    _assert_hidden(pupils("9a") + staff(""))


def test_protected_persons_sort_by_their_alias(admin, world, db, protected_pupil):
    def in_order(body: str, last: str) -> None:
        others = [f"{p['givenName']} {p['familyName']}" for p in world.pupils_a + [world.shared]]
        assert all(0 <= body.index(name) < body.index(last) for name in others), body

    preview = admin.post(
        f"/provgrupper/enheter/{world.unit['id']}/forhandsvisning",
        data={"activity_id": MA9, "register_group_ids": [world.class_a["id"]]},
        headers={"X-CSRFToken": csrf_token(admin), "HX-Request": "true"},
    ).get_data(as_text=True)
    in_order(preview, "Zara Zzalias")
    _create(admin, world, register_group_ids=[world.class_a["id"]])
    group = db.exec(select(TestGroup)).one()
    in_order(admin.get(f"/provgrupper/{group.id}").get_data(as_text=True), "Zara Zzalias")
    in_order(admin.get(f"/provgrupper/{group.id}/sok-elever?q=9a").get_data(as_text=True), "Zara Zzalias")
    staff = admin.get(f"/provgrupper/{group.id}/sok-personal?q=").get_data(as_text=True)
    teacher = f"{world.teacher['givenName']} {world.teacher['familyName']}"
    assert staff.index(teacher) < staff.index("Tove Täcke")  # "Lärarzq" would come first


def test_marking_ready_loads_and_validates_the_members_once(admin, world, db, app):
    """Status changes re-render from the read model gathered before them (a whole year: hundreds of rows)."""
    _create(admin, world)
    group = db.exec(select(TestGroup)).one()
    headers = {"X-CSRFToken": csrf_token(admin), "HX-Request": "true"}
    admin.post(f"/provgrupper/{group.id}/personal", data={"person_id": world.teacher["id"]}, headers=headers)
    member_reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if (
            statement.lstrip().upper().startswith("SELECT")
            and "FROM test_group_member JOIN person" in statement
        ):
            member_reads.append(statement)

    engine = app.extensions["dnp.engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        ready = admin.post(f"/provgrupper/{group.id}/klar", headers=headers)
        assert ready.status_code == 200 and "Gruppen är klar att skicka" in ready.get_data(as_text=True)
        assert len(member_reads) == 1, member_reads
        member_reads.clear()
        withdrawn = admin.post(f"/provgrupper/{group.id}/dra-tillbaka", headers=headers)
        assert "Tillbakadragen" in withdrawn.get_data(as_text=True)
        assert len(member_reads) == 1, member_reads
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_editor_bar_counts_and_large_groups_fold_by_class(admin, world, db):
    _create(admin, world)
    group = db.exec(select(TestGroup)).one()
    headers = {"X-CSRFToken": csrf_token(admin), "HX-Request": "true"}
    body = admin.get(f"/provgrupper/{group.id}", headers=headers).get_data(as_text=True)
    assert 'href="#staff">Personal <span class="badge">0</span>' in body
    assert 'href="#pupils">Elever <span class="badge">6</span>' in body
    assert body.index('id="staff"') < body.index('id="pupils"')  # staff first: reached without scrolling
    assert 'class="class-group" id="klass-9a" data-remember open' in body  # small group: nothing folded


def test_a_pupil_in_two_classes_is_listed_under_the_first_by_name(admin, app, client, world, db):
    """Only classes (Klass) at the group's unit count: not a teaching group, not a class elsewhere."""
    shared = world.shared["id"]
    teaching = factories.group(world.unit["id"], [shared], displayName="0 Musik", groupType="Undervisning")
    elsewhere = factories.group(world.other_unit["id"], [shared], displayName="0A")
    assert send(client, "PUT", "groups", [teaching, elsewhere]).status_code == 201
    _create(admin, world)
    group = db.exec(select(TestGroup)).one()
    body = admin.get(f"/provgrupper/{group.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    rows = body.split('id="klass-')
    (in_9a,) = [part for part in rows if part.startswith("9a")]
    assert f'id="member-{shared}"' in in_9a
    assert all(f'id="member-{shared}"' not in part for part in rows if not part.startswith("9a"))
