"""Roles, sessions, CSRF and security headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.auth.models import LoginSession
from dnp.auth.models import RoleGrant
from tests import factories
from tests.helpers import csrf_token
from tests.helpers import grant
from tests.helpers import login
from tests.helpers import send
from tests.helpers import signed_in

CENTRAL = "central@kommun.se"


@pytest.fixture
def units(client):
    items = [factories.organisation(), factories.organisation()]
    assert send(client, "PUT", "organisations", items).status_code == 201
    return items


@pytest.fixture
def central(app, client):
    return signed_in(client, app, CENTRAL, "central_admin")


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/access")
    assert response.status_code == 302
    assert "/auth/login?next=/admin/access" in response.headers["Location"]
    htmx = client.get("/admin/access", headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"].startswith("/auth/login")
    # The same URL answers differently by HX-Request, so a cache must keep the two apart.
    assert "HX-Request" in response.headers["Vary"] and "HX-Request" in htmx.headers["Vary"]


def test_signed_in_without_role_sees_no_access_page(app, client):
    login(client, app, "nobody@kommun.se")
    response = client.get("/admin/access")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/no-access")
    page = client.get("/auth/no-access")
    assert page.status_code == 403
    assert "ingen åtkomst" in page.get_data(as_text=True).lower()
    assert "nobody@kommun.se" in page.get_data(as_text=True)


def test_wrong_role_is_403(app, client):
    signed_in(client, app, "ops@kommun.se", "operator")
    assert client.get("/admin/access").status_code == 403
    assert client.get("/admin/audit").status_code == 403


def test_central_admin_grants_and_revokes_with_audit(app, central, db, units):
    token = csrf_token(central)
    response = central.post(
        "/admin/access/grants",
        data={"eppn": "rektor@kommun.se", "role": "unit_admin", "unit_ids": [u["id"] for u in units]},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert "rektor@kommun.se" in body
    grants = db.exec(select(RoleGrant).where(RoleGrant.eppn == "rektor@kommun.se")).all()
    assert {g.school_unit_id for g in grants} == {u["id"] for u in units}
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "access.granted")).all()
    assert any(e.actor == CENTRAL and e.after["eppn"] == "rektor@kommun.se" for e in events)
    revoked = central.post(
        f"/admin/access/grants/{grants[0].id}/revoke", headers={"X-CSRFToken": token, "HX-Request": "true"}
    )
    assert revoked.status_code == 200
    db.expire_all()
    assert len(db.exec(select(RoleGrant).where(RoleGrant.eppn == "rektor@kommun.se")).all()) == 1
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "access.revoked")).first().actor == CENTRAL


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"eppn": "inte en eppn", "role": "operator"}, "giltig EPPN"),
        ({"eppn": "a@b.se", "role": "kung"}, "Välj en roll"),
        ({"eppn": "a@b.se", "role": "unit_admin"}, "minst en skolenhet"),
        (
            {"eppn": "a@b.se", "role": "unit_admin", "unit_ids": ["00000000-0000-0000-0000-000000000000"]},
            "finns inte",
        ),
    ],
)
def test_bad_grants_are_refused_in_place(central, db, units, form, message):
    response = central.post("/admin/access/grants", data=form, headers={"X-CSRFToken": csrf_token(central)})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.exec(select(RoleGrant).where(RoleGrant.eppn == "a@b.se")).first() is None


def test_central_admin_cannot_remove_own_central_role(central, db):
    own = db.exec(select(RoleGrant).where(RoleGrant.eppn == CENTRAL)).one()
    response = central.post(
        f"/admin/access/grants/{own.id}/revoke", headers={"X-CSRFToken": csrf_token(central)}
    )
    assert "din egen roll" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(RoleGrant, own.id) is not None
    assert (
        central.post(
            "/admin/access/grants/999999/revoke", headers={"X-CSRFToken": csrf_token(central)}
        ).status_code
        == 404
    )


def test_people_search_shows_alias_for_protected(central, client, units):

    hidden = factories.person(
        units[0]["id"],
        givenName="Riktig",
        familyName="Hemlig",
        securityMarking="Skyddad folkbokföring",
        aliasGivenName="Alias",
        aliasFamilyName="Person",
    )
    send(client, "PUT", "persons", [hidden])
    body = central.get("/admin/access/people?eppn=" + hidden["eduPersonPrincipalNames"][0][:6]).get_data(
        as_text=True
    )
    assert "Alias Person" in body
    assert "Hemlig" not in body and "Riktig" not in body
    assert "Hemlig" not in central.get("/admin/access/people?eppn=hemlig").get_data(as_text=True)


def test_state_change_without_csrf_is_refused(central, db):
    response = central.post("/admin/access/grants", data={"eppn": "x@y.se", "role": "operator"})
    assert response.status_code == 400
    assert db.exec(select(RoleGrant).where(RoleGrant.eppn == "x@y.se")).first() is None


def test_logout_makes_the_old_cookie_useless(app, central, db):
    cookie = central.get_cookie("dnp_session").value
    assert central.get("/admin/access").status_code == 200
    central.post("/auth/logout", headers={"X-CSRFToken": csrf_token(central)})
    thief = app.test_client()
    thief.set_cookie("dnp_session", cookie)
    assert thief.get("/admin/access").status_code == 302
    assert db.exec(select(LoginSession)).first().ended is not None


def test_idle_and_absolute_timeouts(app, central, db):
    record = db.exec(select(LoginSession)).one()
    record.last_seen -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.add(record)
    db.commit()
    assert central.get("/admin/access").status_code == 302
    login(central, app, CENTRAL)
    fresh = db.exec(select(LoginSession).where(LoginSession.ended.is_(None))).one()
    fresh.created -= timedelta(hours=app.config["SESSION_MAX_HOURS"] + 1)
    db.add(fresh)
    db.commit()
    assert central.get("/admin/access").status_code == 302


def test_security_headers_and_no_store(central):
    response = central.get("/admin/access")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


def test_cookie_flags(app, client):
    app.config["ENV"] = "production"
    signed_in(client, app, CENTRAL, "central_admin")
    response = client.get("/admin/access")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_dev_login_only_in_development(app, client):
    assert client.get("/auth/dev-login").status_code == 404
    # A valid CSRF token, so that the environment check is what refuses (not the missing token).
    refused = client.post("/auth/dev-login", data={"eppn": "a@b.se", "csrf_token": csrf_token(client)})
    assert refused.status_code == 404
    assert "/auth/login" in client.get("/auth/no-access").headers["Location"]  # not signed in
    app.config["ENV"] = "development"
    response = client.post("/auth/dev-login", data={"eppn": "a@b.se", "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert "Utvecklingsläge" in client.get("/auth/no-access").get_data(as_text=True)


def test_next_only_redirects_to_own_paths(app, client):
    from dnp.login import safe_next

    for hostile in ("https://evil.se/x", "//evil.se", "/\\evil.se", "javascript:alert(1)", ""):
        assert safe_next(hostile) == "/"
    assert safe_next("/admin/audit?page=2") == "/admin/audit?page=2"


def _register(client, *persons) -> None:

    assert send(client, "PUT", "persons", list(persons)).status_code == 201


def _protected(unit_id: str, **overrides) -> dict:
    fields = {
        "givenName": "Kanariezq",
        "familyName": "Aafågelzq",
        "securityMarking": "Skyddad folkbokföring",
        "aliasGivenName": "Zara",
        "aliasFamilyName": "Zzalias",
    }
    return factories.person(unit_id, **{**fields, **overrides})


def test_people_search_never_finds_a_protected_person_by_a_name_eppn_or_the_idp_name(app, central, db, units):
    from dnp.auth.models import UserAccount

    named = _protected(units[0]["id"], eduPersonPrincipalNames=["kanariezq.aafagelzq@elev.example.se"])
    plain = _protected(
        units[0]["id"],
        eduPersonPrincipalNames=["Q7781@Elev.Example.se"],
        givenName="Hemligzq",
        familyName="Dold",
    )
    _register(central, named, plain)
    # Both have signed in before, and their IdP sent the real name.
    db.add(UserAccount(eppn="kanariezq.aafagelzq@elev.example.se", display_name="Kanariezq Aafågelzq"))
    db.add(UserAccount(eppn="q7781@elev.example.se", display_name="Hemligzq Dold"))
    db.commit()

    def people(query: str) -> str:
        return central.get("/admin/access/people", query_string={"eppn": query}).get_data(as_text=True)

    for query in ("Kanariezq", "aafagelzq", "Aafågelzq", "kanariezq.aa", "Hemligzq", "dold"):
        assert "<li>" not in people(query), query  # no hit at all (the answer repeats the query)
    found = people("q7781")
    assert "Zara Zzalias" in found and "Hemligzq" not in found
    assert "Zara Zzalias" in people("zzalias") and "kanariezq" not in people("zzalias").lower()


def test_behorigheter_shows_the_alias_never_the_idp_name_of_a_protected_person(app, central, db, units):
    from dnp.auth.models import UserAccount

    plain = _protected(
        units[0]["id"], eduPersonPrincipalNames=["Q7781@Elev.Example.se"], givenName="Hemligzq"
    )
    named = _protected(units[0]["id"], eduPersonPrincipalNames=["aafagelzq9@elev.example.se"])
    _register(central, plain, named)
    db.add(UserAccount(eppn="q7781@elev.example.se", display_name="Hemligzq Aafågelzq"))
    db.add(UserAccount(eppn="aafagelzq9@elev.example.se", display_name="Kanariezq Aafågelzq"))
    db.commit()
    grant(app, "q7781@elev.example.se", "operator")  # as the IdP sends it; the register differs in case
    grant(app, "aafagelzq9@elev.example.se", "operator")
    page = central.get("/admin/access").get_data(as_text=True)
    assert "Hemligzq" not in page and "Kanariezq" not in page
    assert page.count("Zara Zzalias") == 1  # the name-free EPPN's row; the other shows the EPPN alone
    assert "aafagelzq9@elev.example.se" in page


def test_grants_ignore_letter_case_of_the_eppn(app, central, db, units):
    headers = {"X-CSRFToken": csrf_token(central)}
    form = {"eppn": " Rektor@Kommun.SE ", "role": "operator"}
    assert central.post("/admin/access/grants", data=form, headers=headers).status_code == 200
    again = central.post("/admin/access/grants", data={**form, "eppn": "rektor@kommun.se"}, headers=headers)
    assert "Behörigheten fanns redan" in again.get_data(as_text=True)
    assert db.exec(select(RoleGrant.eppn).where(RoleGrant.role == "operator")).all() == ["rektor@kommun.se"]
    login(central, app, "REKTOR@kommun.se")  # signed in with another letter case: the same operator
    assert central.get("/ops/").status_code == 200
    assert (
        db.exec(select(LoginSession.eppn).order_by(LoginSession.created.desc())).first() == "rektor@kommun.se"
    )


HOSTILE_NEXT = [
    "/admin/access\n",
    "/admin/access\r",
    "/admin/access\r\nSet-Cookie: x=1",
    "/\t/evil.example",
    "/\x00x",
    "/a\u2028b",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example",
    "javascript:alert(1)",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_that_is_not_a_plain_local_path_falls_back_to_the_start_page(target):
    from dnp.login import safe_next

    assert safe_next(target) == "/"


@pytest.mark.parametrize("raw", ["%0A", "%0D", "%0D%0A", "%0D%0ASet-Cookie:%20x=1", "%09/evil.example"])
def test_dev_login_with_encoded_line_breaks_in_next_redirects_home(app, client, raw):
    app.config["ENV"] = "development"
    grant(app, "a@b.se", "central_admin")
    page = client.get(f"/auth/dev-login?next=/admin/access{raw}")
    assert page.status_code == 200 and 'name="next" value="/"' in page.get_data(as_text=True)
    body = f"eppn=a%40b.se&csrf_token={csrf_token(client)}&next=/admin/access{raw}"
    response = client.post("/auth/dev-login", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "Set-Cookie: x" not in str(response.headers)
    # Already signed in: the login page sends the person on, and still only to a local path.
    again = client.get(f"/auth/login?next=/admin/access{raw}")
    assert again.status_code == 302 and again.headers["Location"] == "/"


def test_dev_login_refuses_an_eppn_with_hidden_characters(app, client):
    app.config["ENV"] = "development"
    # NUL is refused for every form by the input layer (400); the rest by the EPPN rule (422).
    for eppn, status in (("a@b.se\u200b", 422), ("a\x00@b.se", 400), ("a@b", 422)):
        data = {"eppn": eppn, "csrf_token": csrf_token(client)}
        assert client.post("/auth/dev-login", data=data).status_code == status


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "https://evil.example"])
def test_dev_login_refuses_next_to_another_host(app, client, target):
    app.config["ENV"] = "development"
    grant(app, "a@b.se", "central_admin")
    data = {"eppn": "a@b.se", "csrf_token": csrf_token(client), "next": target}
    response = client.post("/auth/dev-login", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/"
