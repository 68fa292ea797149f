"""The login page, the development sign-in, the no-access page and signing out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from dnp.auth.models import LoginSession
from dnp.demo.users import NO_ROLE
from tests.browser.live import sign_in

pytestmark = pytest.mark.browser


def test_signed_out_visitors_land_on_the_login_page(page, live_server):
    page.goto("/provgrupper/")
    expect(page).to_have_url(re.compile(r"/auth/login\?next=/provgrupper/$"))
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    expect(page.get_by_role("link", name="Logga in via Skolfederation")).to_be_visible()
    expect(page.get_by_role("navigation", name="Huvudmeny")).to_have_count(0)
    page.get_by_role("link", name="logga in som en demoanvändare").click()
    expect(page.get_by_role("heading", name="Logga in som demoanvändare")).to_be_visible()
    expect(page.locator(".dev-banner")).to_be_visible()
    # Choosing a persona signs in and returns to where the visitor was going.
    page.get_by_role("button", name=re.compile("^Centraladministratör")).click()
    expect(page).to_have_url(f"{live_server.url}/provgrupper/")
    expect(page.get_by_role("heading", name="Provgrupper på alla skolenheter")).to_be_visible()


def test_a_person_without_a_role_sees_the_no_access_page_and_can_sign_out(
    page, live_server, console_errors_expected
):
    console_errors_expected.append(re.compile(r"status of 403"))  # the no-access page answers 403
    statuses = []
    page.on("response", lambda response: statuses.append((response.url, response.status)))
    sign_in(page, live_server.url, NO_ROLE)
    expect(page).to_have_url(f"{live_server.url}/auth/no-access")
    assert (f"{live_server.url}/auth/no-access", 403) in statuses
    expect(page.get_by_role("heading", name="Du har ingen åtkomst till provgrupperna ännu")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(f"Du är inloggad som {NO_ROLE}")
    expect(page.get_by_role("navigation", name="Huvudmeny").get_by_role("link")).to_have_count(0)
    page.goto("/provgrupper/")
    expect(page).to_have_url(f"{live_server.url}/auth/no-access")

    page.get_by_role("main").get_by_role("button", name="Logga ut").click()
    expect(page.locator(".flash.success")).to_have_text("Du är utloggad.")
    with live_server.session() as db:
        sessions = db.exec(select(LoginSession).where(LoginSession.eppn == NO_ROLE)).all()
    assert sessions and all(record.ended is not None for record in sessions)
    page.goto("/auth/no-access")
    expect(page).to_have_url(f"{live_server.url}/auth/login")
