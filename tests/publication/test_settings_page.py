"""The settings page: protected persons (audited, republished), Skolverket's fetches and reports."""

from __future__ import annotations

from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.publication.settings import protected_mode
from tests.helpers import csrf_token
from tests.helpers import signed_in
from tests.ss12000.helpers import make_group

CENTRAL = "central@kommun.se"


def test_only_central_admins_see_settings(app, client, db, world):
    signed_in(client, app, "skola@kommun.se", "unit_admin", [world.unit["id"]])
    assert client.get("/installningar/").status_code == 403
    # A valid CSRF token, so that the role check is what refuses (not the missing token).
    form = {"mode": "alias", "csrf_token": csrf_token(client)}
    assert client.post("/installningar/skyddade-personer", data=form).status_code == 403
    assert protected_mode(session=db) == "marked"
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "setting.changed")).all() == []


def test_changing_the_protected_mode_is_audited(app, client, db):
    signed_in(client, app, CENTRAL, "central_admin")
    page = client.get("/installningar/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Personer med skyddade personuppgifter" in text and 'value="marked" checked' in text
    assert 'href="/installningar/"' in text  # the nav links the page now
    token = csrf_token(client)
    response = client.post("/installningar/skyddade-personer", data={"mode": "alias", "csrf_token": token})
    assert response.status_code == 303
    assert "skickas om" in client.get("/installningar/").get_data(as_text=True)
    assert protected_mode(session=db) == "alias"
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "setting.changed")).one()
    assert (event.actor, event.before, event.after) == (CENTRAL, {"value": "marked"}, {"value": "alias"})
    bad = client.post("/installningar/skyddade-personer", data={"mode": "both", "csrf_token": token})
    assert bad.status_code == 303 and protected_mode(session=db) == "alias"


def test_fetches_and_reports_are_shown_as_text(app, client, api, world):
    group_id = make_group(app, world.unit["id"], [world.class_a["id"]])
    pupil = world.pupils_a[0]["id"]
    signed_in(client, app, CENTRAL, "central_admin")
    unit_page = client.get(f"/provgrupper/enheter/{world.unit['id']}").get_data(as_text=True)
    assert "inte hämtad än" in unit_page

    api.get("/groups")
    api.post(
        "/log", {"message": "<b>Eleven</b> saknar årskurs", "severityLevel": "Error", "resourceId": pupil}
    )
    api.post("/log", {"message": "Okänd kurs", "severityLevel": "Warning", "resourceId": group_id})
    api.post("/statistics", {"resourceType": "Group", "newCount": 1, "updatedCount": 0, "deletedCount": 0})
    app.extensions["dnp.call_log"].flush()  # calls are written about once a second; now, for the test

    settings = client.get("/installningar/").get_data(as_text=True)
    assert "/groups" in settings and "&lt;b&gt;Eleven&lt;/b&gt; saknar årskurs" in settings
    assert "<b>Eleven</b>" not in settings
    editor = client.get(f"/provgrupper/{group_id}").get_data(as_text=True)
    assert "Från Skolverket" in editor and "Okänd kurs" in editor and "Provgruppen" in editor
    assert "&lt;b&gt;Eleven&lt;/b&gt;" in editor and "Hämtad av Skolverket" in editor
