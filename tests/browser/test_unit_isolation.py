"""A school administrator cannot see or touch another school unit's groups through the UI."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.groups.models import TestGroupSource
from dnp.register.models import Duty
from dnp.register.models import Enrolment
from dnp.register.models import RegisterGroup
from tests.browser.live import csrf_token
from tests.browser.live import sign_in

pytestmark = pytest.mark.browser


def _snapshot(live) -> tuple:
    """Every test group row, member row and source row, and the number of audit events."""
    with live.session() as db:
        groups = sorted(tuple(sorted(g.model_dump().items())) for g in db.exec(select(TestGroup)))
        members = sorted(tuple(sorted(m.model_dump().items())) for m in db.exec(select(TestGroupMember)))
        sources = sorted((s.test_group_id, s.register_group_id) for s in db.exec(select(TestGroupSource)))
        audit = db.exec(select(func.count()).select_from(AuditEvent)).one()
        return groups, members, sources, audit


def _other_unit(live, unit_id: str) -> dict:
    with live.session() as db:
        group = db.exec(
            select(TestGroup).where(TestGroup.school_unit_id == unit_id, TestGroup.status == "ready")
        ).first()
        pupil = db.exec(
            select(TestGroupMember.person_id).where(TestGroupMember.test_group_id == group.id)
        ).first()
        return {
            "group": group,
            "pupil": pupil,
            "staff": db.exec(select(Duty.person_id).where(Duty.school_unit_id == unit_id)).first(),
            "class": db.exec(select(RegisterGroup.id).where(RegisterGroup.school_unit_id == unit_id)).first(),
            "enrolled": db.exec(
                select(Enrolment.person_id).where(Enrolment.school_unit_id == unit_id)
            ).first(),
        }


def test_school_admin_cannot_see_or_touch_another_units_groups(
    page, live_server, demo, console_errors_expected
):
    console_errors_expected.append(re.compile(r"status of (403|404)"))  # typed-in addresses: on purpose
    other = _other_unit(live_server, demo.other.id)
    group_id = other["group"].id
    with live_server.session() as db:
        own = db.exec(select(TestGroup).where(TestGroup.school_unit_id == demo.first.id)).first()
    sign_in(page, live_server.url, demo.first.admin)

    # What the UI offers: only the own unit, nothing that leads to the other one.
    page.goto("/provgrupper/")
    expect(page).to_have_url(f"{live_server.url}/provgrupper/enheter/{demo.first.id}")
    for path in ("/provgrupper/", f"/provgrupper/{own.id}", f"/provgrupper/enheter/{demo.first.id}/ny"):
        page.goto(path)
        html = page.content()
        assert demo.other.id not in html and demo.other.name not in html
        assert not any(g in html for g in demo.other_group_ids)

    # Typed-in addresses of the other unit's pages: the 404 page; its fragments: 404 too.
    for path in (f"/provgrupper/enheter/{demo.other.id}", f"/provgrupper/{group_id}"):
        response = page.goto(path)
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Sidan finns inte")).to_be_visible()
    for path in (
        f"/provgrupper/enheter/{demo.other.id}/ny",
        f"/provgrupper/enheter/{demo.other.id}/per-klass",
        f"/provgrupper/{group_id}/klar",
        f"/provgrupper/{group_id}/sok-elever?q=an",
        f"/provgrupper/{group_id}/sok-personal",
    ):
        assert page.request.get(path).status == 404, path

    # Posts with a valid CSRF token, as HTMX would send them: 404, and nothing changes.
    token = csrf_token(page)
    headers = {"X-CSRFToken": token, "HX-Request": "true"}
    renamed = page.request.post(
        f"/provgrupper/{own.id}/namn", form={"name": own.display_name}, headers=headers
    )
    assert renamed.status == 200  # the token is good: the 404s below are the unit check
    before = _snapshot(live_server)
    base = f"/provgrupper/{group_id}"
    posts = [
        (f"{base}/namn", {"name": "Kapad"}),
        (f"{base}/elever", {"person_id": other["enrolled"]}),
        (f"{base}/elever/klass", {"register_group_id": other["class"]}),
        (f"{base}/elever/{other['pupil']}/ta-bort", {}),
        (f"{base}/personal", {"person_id": other["staff"]}),
        (f"{base}/personal/{other['staff']}/ta-bort", {}),
        (f"{base}/folj", {"follow": "0"}),
        (f"{base}/klar", {}),
        (f"{base}/dra-tillbaka", {}),
        (f"{base}/ta-bort", {}),
        (
            f"/provgrupper/enheter/{demo.other.id}/ny",
            {"activity_id": "x", "term": "VT 2027", "name": "Kapad"},
        ),
        (f"/provgrupper/enheter/{demo.other.id}/forhandsvisning", {"register_group_ids": other["class"]}),
        (f"/provgrupper/enheter/{demo.other.id}/per-klass", {"activity_id": "x", "term": "VT 2027"}),
        (f"/provgrupper/enheter/{demo.other.id}/tillfallen/{other['group'].occasion_id}/klara", {}),
        # The own group, but a person of the other unit.
        (f"/provgrupper/{own.id}/elever", {"person_id": other["enrolled"]}),
        (f"/provgrupper/{own.id}/personal", {"person_id": other["staff"]}),
    ]
    for path, form in posts:
        response = page.request.post(path, form=form, headers=headers)
        assert response.status == 404, (path, response.status)
    assert _snapshot(live_server) == before

    # The central administrator's pages are not there for a school administrator either.
    for path in ("/admin/access", "/admin/audit"):
        assert page.goto(path).status == 403
    assert page.request.post("/provgrupper/katalog", headers=headers).status == 403
