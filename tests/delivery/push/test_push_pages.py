"""The push method's pages: switching method with confirmation, the connection test, answers on the group
pages, and the push section of /ops with its resends; roles, CSRF and odd input for each action."""

from __future__ import annotations

import pytest
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.delivery.push.method import transfer_method
from dnp.delivery.push.models import PushObject
from tests.helpers import csrf_token
from tests.helpers import grant
from tests.helpers import login
from tests.helpers import send

CENTRAL = "central@kommun.se"
NIL = "00000000-0000-0000-0000-000000000000"
OBJECT = "/ops/push/objekt/skicka-om"
OPERATOR = "drift@kommun.se"
UNIT_ADMIN = "enhet@kommun.se"


def _as(client, app, eppn: str, role: str, unit_ids=()):
    grant(app, eppn, role, unit_ids)
    login(client, app, eppn)
    return client


def _post(client, path: str, data: dict, *, token: bool = True, htmx: bool = False):
    headers = {"X-CSRFToken": csrf_token(client)} if token else {}
    if htmx:
        headers["HX-Request"] = "true"
    return client.post(path, data=data, headers=headers)


def _method(env) -> str:
    with env.session() as session:
        return transfer_method(session=session)


def _audits(env, action: str) -> list[AuditEvent]:
    with env.session() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


# -- Inställningar: Överföringsmetod -----------------------------------------------------------


def test_settings_show_both_methods_with_what_each_needs(push_env, client):
    page = _as(client, push_env.app, CENTRAL, "central_admin").get("/installningar/").get_data(as_text=True)
    assert "Överföringsmetod" in page
    assert "Skolverket hämtar (SS 12000)" in page and "Vi skickar (Provisioning API)" in page
    assert "Administration provtjänsten" in page and "prenumeration" in page
    assert "bara vårt klientcertifikat i Skolfederations Moa-metadata" in page
    assert "Används nu" in page
    assert "/installningar/overforingsmetod?method=push" in page
    assert "Skolverkets hämtningar" in page


def test_switching_to_push_asks_first_then_sends_everything_ready(push_env, client):
    env = push_env
    _as(client, env.app, CENTRAL, "central_admin")
    confirm = client.get("/installningar/overforingsmetod?method=push")
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert "Byta till Vi skickar (Provisioning API)?" in text
    assert "Allt som är klart skickas" in text
    assert 'name="method" value="push"' in text
    assert _method(env) == "pull"  # asking changes nothing
    response = _post(client, "/installningar/overforingsmetod", {"method": "push"})
    assert response.status_code == 303
    assert _method(env) == "push"
    (event,) = _audits(env, "setting.changed")
    assert (event.actor, event.entity_id, event.after) == (CENTRAL, "transfer_method", {"value": "push"})
    page = client.get("/installningar/").get_data(as_text=True)
    assert "Allt som är klart skickas till Skolverket" in page
    assert "Skolverkets hämtningar" not in page  # pull's fetches do not apply under push
    env.settle()
    assert set(env.api.stored("groups")) == {env.group_id}


def test_switching_back_to_pull_says_skolverket_keeps_its_data(push_env, client):
    env = push_env
    env.switch_to_push()
    env.settle()
    _as(client, env.app, CENTRAL, "central_admin")
    text = client.get("/installningar/overforingsmetod?method=pull").get_data(as_text=True)
    assert "Det Skolverket redan har fått ligger kvar" in text
    assert _post(client, "/installningar/overforingsmetod", {"method": "pull"}).status_code == 303
    assert _method(env) == "pull"
    assert set(env.api.stored("groups")) == {env.group_id}  # nothing deleted at Skolverket


def test_the_confirmation_shows_in_place_with_htmx(push_env, client):
    _as(client, push_env.app, CENTRAL, "central_admin")
    inline = client.get("/installningar/overforingsmetod?method=push", headers={"HX-Request": "true"})
    text = inline.get_data(as_text=True)
    assert 'id="method-confirm-card"' in text and "<html" not in text


@pytest.mark.parametrize("value", ["", "file", "PUSH", "push<script>", "x" * 5000])
def test_an_unknown_method_changes_nothing(push_env, client, value):
    env = push_env
    _as(client, env.app, CENTRAL, "central_admin")
    assert client.get("/installningar/overforingsmetod", query_string={"method": value}).status_code == 303
    response = _post(client, "/installningar/overforingsmetod", {"method": value})
    assert response.status_code == 303
    assert _method(env) == "pull"
    assert "<script>" not in client.get("/installningar/").get_data(as_text=True)
    assert not _audits(env, "setting.changed")


def test_the_current_method_again_is_said_and_not_audited(push_env, client):
    env = push_env
    _as(client, env.app, CENTRAL, "central_admin")
    assert client.get("/installningar/overforingsmetod?method=pull").status_code == 303
    assert _post(client, "/installningar/overforingsmetod", {"method": "pull"}).status_code == 303
    assert "Överföringsmetoden var redan" in client.get("/installningar/").get_data(as_text=True)
    assert not _audits(env, "setting.changed")


def test_switching_needs_a_csrf_token(push_env, client):
    env = push_env
    _as(client, env.app, CENTRAL, "central_admin")
    response = _post(client, "/installningar/overforingsmetod", {"method": "push"}, token=False)
    assert response.status_code == 400
    assert _method(env) == "pull"


@pytest.mark.parametrize("role", ["operator", "unit_admin"])
def test_only_central_administrators_switch(push_env, client, role):
    env = push_env
    _as(client, env.app, "other@kommun.se", role, [env.world.unit["id"]] if role == "unit_admin" else ())
    assert client.get("/installningar/overforingsmetod?method=push").status_code == 403
    assert _post(client, "/installningar/overforingsmetod", {"method": "push"}).status_code == 403
    assert _method(env) == "pull"


# -- Förberedelser and the connection page --------------------------------------------------------


def test_checklist_and_connection_page_follow_the_method(push_env, client):
    env = push_env
    _as(client, env.app, CENTRAL, "central_admin")
    pull_list = client.get("/installningar/forberedelser").get_data(as_text=True)
    assert "Skolverket prenumererar på ändringar" in pull_list
    pull_page = client.get("/installningar/skolverket").get_data(as_text=True)
    assert "Skolverkets prenumerationer" in pull_page and "Vårt SS 12000-API" in pull_page
    env.switch_to_push()
    push_list = client.get("/installningar/forberedelser").get_data(as_text=True)
    assert "prenumer" not in push_list
    assert "Provisioning API svarar" in push_list
    push_page = client.get("/installningar/skolverket").get_data(as_text=True)
    assert "Skolverkets prenumerationer" not in push_page and "Vårt SS 12000-API" not in push_page
    assert env.api.url in push_page


def test_the_push_connection_test_fetches_a_provisioning_token_and_calls_alive(push_env, client):
    env = push_env
    env.switch_to_push()
    _as(client, env.app, CENTRAL, "central_admin")
    response = _post(client, "/installningar/skolverket/test", {}, htmx=True)
    text = response.get_data(as_text=True)
    assert "Provisioning API svarar: anslutningen fungerar" in text, text[:2000]
    assert env.api.alive_calls == 1
    (event,) = _audits(env, "connection.tested")
    assert event.after == {"ok": True, "certificate": "in_use", "method": "push"}
    assert "Provisioning API svarar" in client.get("/installningar/forberedelser").get_data(as_text=True)


def test_a_provisioning_api_that_does_not_answer_is_said_in_swedish(push_env, client):
    env = push_env
    env.switch_to_push()
    env.app.config["PROVISIONING_URL"] = "https://127.0.0.1:9/provisioning/v1"  # nothing listens there
    _as(client, env.app, CENTRAL, "central_admin")
    text = _post(client, "/installningar/skolverket/test", {}, htmx=True).get_data(as_text=True)
    assert "Token hämtades, men inget svar från Provisioning API: Skolverket gick inte att nå" in text
    assert env.api.alive_calls == 0


def test_testing_a_new_certificate_under_push_without_one_says_so(push_env, client):
    env = push_env
    env.switch_to_push()
    _as(client, env.app, CENTRAL, "central_admin")
    text = _post(client, "/installningar/skolverket/test", {"certificate": "new"}, htmx=True).get_data(
        as_text=True
    )
    assert "Det finns inget nytt certifikat att testa." in text
    assert env.api.alive_calls == 0
    (event,) = _audits(env, "connection.tested")
    assert event.after == {"ok": False, "certificate": "new", "method": "push"}


@pytest.mark.parametrize("role", ["operator", "unit_admin"])
def test_only_central_administrators_test_the_connection(push_env, client, role):
    env = push_env
    env.switch_to_push()
    _as(client, env.app, "other@kommun.se", role, [env.world.unit["id"]] if role == "unit_admin" else ())
    assert _post(client, "/installningar/skolverket/test", {}).status_code == 403
    assert env.api.alive_calls == 0


# -- Skolverket's answers on the group pages ----------------------------------------------------


def _name_eppn(env, client, pupil: dict) -> None:
    """Give a pupil an EPPN built from name letters (Skolverket answers with warning 3047)."""
    changed = {**pupil, "eduPersonPrincipalNames": [f"{pupil['familyName'].lower()}@elev.example.se"]}
    assert send(client, "PUT", "persons", [changed]).status_code in (200, 201)


def test_the_editor_shows_each_members_answer_a_refusal_and_a_3047_warning(push_env, client):
    env = push_env
    refused, warned = env.world.pupils_a[0], env.world.pupils_a[1]
    env.api.refuse[refused["id"]] = ("3011", "civicNo.value", "Personnumret är ogiltigt.")
    _name_eppn(env, client, warned)
    env.switch_to_push()
    env.settle()
    _as(client, env.app, CENTRAL, "central_admin")
    page = client.get(f"/provgrupper/{env.group_id}").get_data(as_text=True)
    assert "Skolverket avvisade 1 person i gruppen" in page
    row = page.split(f'id="member-{refused["id"]}"', 1)[1].split("</tr>", 1)[0]
    assert "Avvisad av Skolverket" in row
    assert "Personnummer:" in row and "Personnumret är ogiltigt." in row and "(kod 3011)" in row
    row = page.split(f'id="member-{warned["id"]}"', 1)[1].split("</tr>", 1)[0]
    assert "Godkänd med varning" in row and "(kod 3047)" in row and "bokstäver ur namnet" in row
    teacher = page.split(f'id="member-{env.world.teacher["id"]}"', 1)[1].split("</tr>", 1)[0]
    assert teacher.count("Godkänd") == 2  # the person and the duty
    assert "skickad " in teacher
    assert 'id="push-group-answer"' in page
    assert "hämtad" not in page.lower() and "Tillgänglig" not in page  # the pull words do not apply


def test_a_refused_group_is_said_above_the_editor(push_env, client):
    env = push_env
    env.api.refuse[env.group_id] = ("3002", "groupType", "Endast Klass och Undervisning tas emot.")
    env.switch_to_push()
    env.settle()
    _as(client, env.app, CENTRAL, "central_admin")
    page = client.get(f"/provgrupper/{env.group_id}").get_data(as_text=True)
    banner = page.split('id="push-refused"', 1)[1].split("</div>", 1)[0]
    assert "Skolverket avvisade provgruppen:" in banner and "(kod 3002)" in banner


def test_right_after_the_switch_every_member_waits(push_env, client):
    env = push_env
    env.switch_to_push()
    _as(client, env.app, CENTRAL, "central_admin")
    page = client.get(f"/provgrupper/{env.group_id}").get_data(as_text=True)
    row = page.split(f'id="member-{env.world.pupils_a[0]["id"]}"', 1)[1].split("</tr>", 1)[0]
    assert "Väntar" in row and "Godkänd" not in row
    block = page.split('id="push-group-answer"', 1)[1].split("</div>", 1)[0]
    assert block.count("Väntar") == 2  # the group and its activity


def test_the_unit_overview_counts_refusals_per_group(push_env, client):
    env = push_env
    env.api.refuse[env.world.pupils_a[0]["id"]] = ("3011", "civicNo.value", "Personnumret är ogiltigt.")
    env.switch_to_push()
    env.settle()
    _as(client, env.app, CENTRAL, "central_admin")
    page = client.get(f"/provgrupper/enheter/{env.world.unit['id']}").get_data(as_text=True)
    assert "1 avvisade" in page
    assert "Godkänd" in page  # the group itself
    assert "Tillgänglig" not in page and "hämtad" not in page.lower()
    assert "Väntar på att skickas" not in page  # every ready group was answered


def test_no_answers_are_shown_while_pulling_and_nothing_was_pushed(push_env, client):
    env = push_env
    _as(client, env.app, CENTRAL, "central_admin")
    page = client.get(f"/provgrupper/{env.group_id}").get_data(as_text=True)
    assert "push-answer" not in page and "Skolverkets svar" not in page


# -- /ops: the push section and its resends -------------------------------------------------------


def _refused_setup(env):
    refused = env.world.pupils_a[0]["id"]
    env.api.refuse[refused] = ("3011", "civicNo.value", "Personnumret är ogiltigt.")
    env.switch_to_push()
    env.settle()
    return refused


def test_ops_shows_the_push_pipeline_without_personal_data(push_env, client):
    env = push_env
    refused = _refused_setup(env)
    page = _as(client, env.app, OPERATOR, "operator").get("/ops/").get_data(as_text=True)
    assert "Sändningar till Provisioning API" in page
    assert "dnp-push" in page  # its RQ queue is listed with the others
    assert refused in page and "3011 (civicNo.value)" in page
    assert env.world.pupils_a[0]["familyName"] not in page
    assert "Personnumret är ogiltigt" not in page  # Skolverket's free text may hold personal data


def test_ops_resends_all_failed_audited(push_env, client):
    env = push_env
    refused = _refused_setup(env)
    env.api.refuse.clear()
    _as(client, env.app, OPERATOR, "operator")
    response = _post(client, "/ops/push/skicka-om", {}, htmx=True)
    assert response.status_code == 200
    assert "1 objekt skickas om till Skolverket" in response.get_data(as_text=True)
    (event,) = _audits(env, "ops.push_resent")
    assert (event.actor, event.entity_id) == (OPERATOR, "failed")
    env.settle()
    assert env.objects("Person")[refused].status == "Success"


def test_ops_resends_one_object_and_one_group(push_env, client):
    env = push_env
    refused = _refused_setup(env)
    _as(client, env.app, OPERATOR, "operator")
    response = _post(client, OBJECT, {"resource": "Person", "entity_id": refused.upper()})
    assert response.status_code == 200
    assert env.objects("Person")[refused].dirty
    response = _post(client, "/ops/push/grupp/skicka-om", {"group_id": env.group_id}, htmx=True)
    assert response.status_code == 200
    assert "skickas om" in response.get_data(as_text=True)
    assert env.objects("Group")[env.group_id].dirty
    assert [e.entity_id for e in _audits(env, "ops.push_resent")] == [f"Person:{refused}", env.group_id]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        (OBJECT, {"resource": "Person", "entity_id": NIL}),
        (OBJECT, {"resource": "Hack", "entity_id": NIL}),
        (OBJECT, {"resource": "Person", "entity_id": "' OR 1=1 --"}),
        (OBJECT, {"resource": "Person", "entity_id": "<script>alert(1)</script>"}),
        (OBJECT, {}),
    ],
)
def test_ops_resend_refuses_unknown_and_hostile_object_ids(push_env, client, path, data):
    env = push_env
    _refused_setup(env)
    _as(client, env.app, OPERATOR, "operator")
    response = _post(client, path, data, htmx=True)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Det objektet finns inte bland sändningarna till Skolverket." in text
    assert "<script>alert" not in text and "OR 1=1" not in text
    assert not _audits(env, "ops.push_resent")


@pytest.mark.parametrize("group_id", [NIL, "../../etc/passwd", "<script>alert(1)</script>", "x" * 10_000, ""])
def test_ops_says_an_unknown_typed_group_id_without_echoing_it(push_env, client, group_id):
    env = push_env
    _refused_setup(env)
    _as(client, env.app, OPERATOR, "operator")
    response = _post(client, "/ops/push/grupp/skicka-om", {"group_id": group_id}, htmx=True)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Det finns ingen skickad provgrupp med det id:t." in text
    assert "<script>alert" not in text and "etc/passwd" not in text
    assert not _audits(env, "ops.push_resent")


@pytest.mark.parametrize(
    "path", ["/ops/push/skicka-om", "/ops/push/objekt/skicka-om", "/ops/push/grupp/skicka-om"]
)
@pytest.mark.parametrize("role", ["central_admin", "unit_admin"])
def test_only_operators_resend(push_env, client, path, role):
    env = push_env
    refused = _refused_setup(env)
    _as(client, env.app, "other@kommun.se", role, [env.world.unit["id"]] if role == "unit_admin" else ())
    data = {"resource": "Person", "entity_id": refused, "group_id": env.group_id}
    assert _post(client, path, data).status_code == 403
    assert not _audits(env, "ops.push_resent")


@pytest.mark.parametrize(
    "path", ["/ops/push/skicka-om", "/ops/push/objekt/skicka-om", "/ops/push/grupp/skicka-om"]
)
def test_ops_resend_needs_a_csrf_token(push_env, client, path):
    env = push_env
    refused = _refused_setup(env)
    _as(client, env.app, OPERATOR, "operator")
    data = {"resource": "Person", "entity_id": refused, "group_id": env.group_id}
    assert _post(client, path, data, token=False).status_code == 400
    assert not _audits(env, "ops.push_resent")
    with env.session() as session:
        assert not session.exec(select(PushObject).where(PushObject.dirty.is_(True))).first()
