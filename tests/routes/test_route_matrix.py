"""Every route × every role, built from the app's URL map: each role gets exactly what it should.

A new route fails ``test_every_route_is_classified`` until it is added to ``CATEGORIES``.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session

from dnp.auth.models import RoleGrant
from dnp.auth.roles import Access
from dnp.groups import changes
from dnp.groups.tasks import start_task
from tests.groups_fixtures import MA9
from tests.helpers import csrf_token
from tests.helpers import grant
from tests.helpers import login

CATEGORIES = {
    "static": "public",
    "health.healthz": "public",
    "health.readyz": "public",
    "home.index": "home",
    "auth.login": "public",
    "saml.login": "public",
    "saml.metadata": "public",
    "saml.acs": "public",
    "saml.sls": "public",
    "auth.dev_login": "dev_only",
    "auth.no_access": "no_access_page",
    "auth.logout": "logout",
    "ingest.write": "bearer",
    "ss12000.list_entities": "bearer",
    "ss12000.get_entity": "bearer",
    "ss12000.deleted_entities": "bearer",
    "ss12000.create_subscription": "bearer",
    "ss12000.renew_subscription": "bearer",
    "ss12000.delete_subscription": "bearer",
    "ss12000.post_log": "bearer",
    "ss12000.post_statistics": "bearer",
    "settings.index": "central",
    "connection.index": "central",
    "connection.certificate": "central",
    "connection.activate_certificate": "central",
    "connection.discard_certificate": "central",
    "connection.test": "central",
    "connection.checklist": "central",
    "settings.protected_persons": "central",
    "settings.confirm_method": "central",
    "settings.set_method": "central",
    "admin.access_page": "central",
    "admin.audit": "central",
    "admin.grant": "central",
    "admin.people": "central",
    "admin.revoke": "central",
    "groups.close_occasion": "central",
    "groups.refresh_catalog": "central",
    "groups.index": "manager",
    "ops.index": "operator",
    "ops.requeue": "operator",
    "ops.requeue_deliveries": "operator",
    "ops.push_resend_failed": "operator",
    "ops.push_resend_object": "operator",
    "ops.push_resend_group": "operator",
    "groups.task_status": "task",
    "groups.unit": "unit",
    "groups.new": "unit",
    "groups.create": "unit",
    "groups.preview": "unit",
    "groups.bulk": "unit",
    "groups.ready_all": "unit",
    "groups.edit": "unit",
    "groups.rename": "unit",
    "groups.add_pupil": "unit",
    "groups.add_class": "unit",
    "groups.remove_pupil": "unit",
    "groups.add_staff": "unit",
    "groups.remove_staff": "unit",
    "groups.set_following": "unit",
    "groups.search": "unit",
    "groups.search_staff": "unit",
    "groups.confirm_ready": "unit",
    "groups.mark_ready": "unit",
    "groups.withdraw": "unit",
    "groups.delete": "unit",
}

ROLES = ("anonymous", "no_role", "operator", "other_unit_admin", "unit_admin", "central_admin")
ALLOWED = {
    "central": {"central_admin"},
    "manager": {"unit_admin", "other_unit_admin", "central_admin"},
    "unit": {"unit_admin", "central_admin"},
    "task": {"unit_admin", "central_admin"},
    "operator": {"operator"},
    "no_access_page": {"operator", "unit_admin", "other_unit_admin", "central_admin"},
}
EPPNS = {
    "no_role": "ingen@kommun.se",
    "operator": "drift@kommun.se",
    "other_unit_admin": "annan@kommun.se",
    "unit_admin": "rektor@kommun.se",
    "central_admin": "central@kommun.se",
}


def test_every_route_is_classified(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(CATEGORIES))
    assert missing == [], f"classify these endpoints in tests/routes/test_route_matrix.py: {missing}"


def _fresh_objects(app, world) -> dict:
    """A new draft group (with a pupil and a teacher) and a task, so destructive calls have targets."""
    with Session(app.extensions["dnp.engine"], expire_on_commit=False) as session:
        rights = Access(eppn="setup", central_admin=True)
        group = changes.create_group(
            "setup", rights, world.unit["id"], MA9, "VT 2027", "G", [world.class_a["id"]], session=session
        )
        changes.add_staff("setup", group, world.teacher["id"], session=session)
        task = start_task(EPPNS["unit_admin"], "catalog_refresh", session=session)
        session.commit()
        grant_row = session.exec(RoleGrant.__table__.select().limit(1)).first()
    return {
        "unit_id": world.unit["id"],
        "group_id": group.id,
        "occasion_id": group.occasion_id,
        "person_id": world.pupils_a[0]["id"],
        "staff_id": world.teacher["id"],
        "task_id": task.id,
        "grant_id": grant_row.id,
        "kind": "persons",
        "entity_id": world.pupils_a[0]["id"],
        "subscription_id": world.pupils_a[0]["id"],
        "filename": "app.css",
    }


def _request(client, app, endpoint: str, values: dict, token: str | None):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        from flask import url_for

        arguments = {name: values[name] for name in rule.arguments}
        if endpoint == "groups.remove_staff":
            arguments["person_id"] = values["staff_id"]
        url = url_for(endpoint, **arguments)
    if "GET" in rule.methods:
        response = client.get(url)
        response.close()
        return response
    method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
    headers = {"X-CSRFToken": token} if token else {}
    data = {"person_id": values["person_id"], "name": "Nytt namn", "register_group_id": ""}
    response = client.open(url, method=method, data=data, headers=headers)
    response.close()
    return response


def _outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code in (301, 302, 303) and "/auth/login" in location:
        return "login"
    if response.status_code in (301, 302, 303) and "/auth/no-access" in location:
        return "no_access"
    if response.status_code in (401, 403, 404):
        return str(response.status_code)
    if response.status_code == 503:
        return "unavailable"  # e.g. SAML not configured in tests
    assert response.status_code < 500, response.status_code
    return "allowed"


@pytest.mark.parametrize("endpoint", sorted(CATEGORIES))
def test_role_matrix(app, world, endpoint):
    category = CATEGORIES[endpoint]
    for role in ("other_unit_admin", "unit_admin", "operator", "central_admin", "no_role"):
        if role in ("unit_admin",):
            grant(app, EPPNS[role], "unit_admin", [world.unit["id"]])
        elif role == "other_unit_admin":
            grant(app, EPPNS[role], "unit_admin", [world.other_unit["id"]])
        elif role != "no_role":
            grant(app, EPPNS[role], role)
    for role in ROLES:
        values = _fresh_objects(app, world)
        client = app.test_client()
        if role != "anonymous":
            login(client, app, EPPNS[role])
        token = csrf_token(client)
        outcome = _outcome(_request(client, app, endpoint, values, token))
        if category == "public":
            assert outcome in ("allowed", "404", "unavailable"), (role, outcome)
        elif category == "home":
            assert outcome == ("no_access" if role == "no_role" else "allowed"), (role, outcome)
        elif category == "logout":
            assert outcome == "login", (role, outcome)
        elif category == "no_access_page" and role == "no_role":
            assert outcome == "403", (role, outcome)  # the friendly "no access yet" page
        elif category == "dev_only":
            assert outcome == "404", (role, outcome)
        elif category == "bearer":
            assert outcome == "401", (role, outcome)
        elif role in ALLOWED[category]:
            assert outcome == "allowed", (role, outcome)
        elif role == "anonymous":
            assert outcome == "login", (role, outcome)
        elif role == "no_role":
            assert outcome == "no_access", (role, outcome)
        elif category in ("unit", "task") and role == "other_unit_admin":
            assert outcome == "404", (role, outcome)  # other units' data does not exist for them
        else:
            assert outcome == "403", (role, outcome)
