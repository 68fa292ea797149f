"""The central administrator: the catalog refresh, totals for all units, access management, the audit log."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.audit.search import ACTION_NAMES
from dnp.auth.models import RoleGrant
from dnp.common.people import person_label
from dnp.demo.users import CENTRAL_ADMIN
from dnp.groups.models import BackgroundTask
from dnp.groups.models import TestActivity
from dnp.groups.overview import central_totals
from dnp.register.models import Duty
from dnp.register.models import Person
from tests.browser.live import sign_in

pytestmark = pytest.mark.browser


def test_central_admin_refreshes_the_catalog_and_sees_totals(page, live_server):
    sign_in(page, live_server.url, CENTRAL_ADMIN)
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Provgrupper").click()
    expect(page.get_by_role("heading", name="Provgrupper på alla skolenheter")).to_be_visible()

    with live_server.session() as db:
        totals = central_totals(session=db)
    expect(page.locator("dl.stats dt")).to_have_text(
        ["Klara grupper", "Utkast", "Elever i klara grupper", "Skolenheter"]
    )
    expect(page.locator("dl.stats dd")).to_have_text(
        [
            str(sum(row["ready"] for row in totals)),
            str(sum(row["draft"] for row in totals)),
            str(sum(row["pupils"] for row in totals)),
            str(len(totals)),
        ]
    )
    rows = page.get_by_role("region", name="Skolenheter").locator("tbody tr")
    expect(rows).to_have_count(len(totals))
    for row, expected in zip(rows.all(), totals, strict=True):
        cells = [expected["ready"], expected["draft"], expected["withdrawn"], expected["pupils"]]
        expect(row.locator("th")).to_have_text(expected["unit"].display_name)
        expect(row.locator("td.num")).to_have_text([str(value) for value in cells])

    # Skolverket's open-data API is not reachable here (a closed port): the demo catalog is used.
    page.get_by_role("button", name="Hämta provaktiviteter från Skolverket").click()
    task = page.locator("#catalog-task")
    expect(task).to_contain_text("Skolverket gick inte att nå")
    with live_server.session() as db:
        count = db.exec(select(func.count()).select_from(TestActivity)).one()
        sources = set(db.exec(select(TestActivity.source)))
        refresh = db.exec(select(BackgroundTask).where(BackgroundTask.kind == "catalog_refresh")).all()[-1]
    expect(task).to_contain_text(f"Demokatalogen med {count} provaktiviteter används.")
    assert sources == {"demo"}
    assert (refresh.status, refresh.created_by) == ("done", CENTRAL_ADMIN)
    page.reload()
    expect(page.get_by_role("region", name="Nationella prov (provaktiviteter)")).to_contain_text(
        f"{count} provaktiviteter i katalogen – demokatalog"
    )


def _grants(live, eppn: str) -> list[tuple[str, str | None]]:
    with live.session() as db:
        return [(g.role, g.school_unit_id) for g in db.exec(select(RoleGrant).where(RoleGrant.eppn == eppn))]


def test_central_admin_grants_and_revokes_a_unit_admin_role(page, live_server, demo):
    with live_server.session() as db:
        teachers = db.exec(
            select(Person)
            .join(Duty, Duty.person_id == Person.id)
            .where(Duty.school_unit_id == demo.other.id, Duty.duty_role == "Lärare")
            .where(Person.security_marking == "Ingen", Person.eppn.is_not(None))
            .order_by(Person.family_name)
        ).all()
    person = next(p for p in teachers if not _grants(live_server, p.eppn))
    sign_in(page, live_server.url, CENTRAL_ADMIN)
    page.get_by_role("link", name="Behörigheter").click()
    expect(page.get_by_role("navigation", name="Huvudmeny").locator("[aria-current=page]")).to_have_text(
        ["Behörigheter"]
    )

    # The person search keeps answering as one types on (it used to replace its own result area).
    search = page.get_by_label("Person (sök på namn eller EPPN)")
    results = page.locator("#people-results")
    label = person_label(person)
    search.press_sequentially(label[:3], delay=10)
    expect(results.get_by_role("button").first).to_be_visible()
    search.press_sequentially(label[3:], delay=10)
    choice = results.get_by_role("button", name=re.compile(re.escape(person.eppn)))
    choice.click()
    expect(search).to_have_value(person.eppn)
    expect(results).to_be_empty()

    page.get_by_role("radio", name="Skolenhetsadministratör").check()
    page.get_by_role("checkbox", name=re.compile(f"^{demo.other.name} ")).check()
    page.get_by_role("button", name="Ge behörighet").click()
    expect(page.locator(".flash.success")).to_have_text(f"1 ny behörighet gavs till {person.eppn}.")
    row = page.locator("tr", has_text=person.eppn)
    expect(row).to_contain_text("Skolenhetsadministratör")
    expect(row).to_contain_text(demo.other.name)
    assert _grants(live_server, person.eppn) == [("unit_admin", demo.other.id)]

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Ta bort behörighet för {person.eppn}").click()
    expect(page.locator(".flash.success")).to_have_text(f"Behörigheten togs bort från {person.eppn}.")
    expect(page.locator("tr", has_text=person.eppn)).to_have_count(0)
    assert _grants(live_server, person.eppn) == []
    with live_server.session() as db:
        actions = db.exec(
            select(AuditEvent.action).where(
                AuditEvent.actor == CENTRAL_ADMIN, AuditEvent.action.like("access.%")
            )
        ).all()
    assert actions[-2:] == ["access.granted", "access.revoked"]


def test_audit_log_filters_by_action(page, live_server):
    sign_in(page, live_server.url, CENTRAL_ADMIN)
    page.get_by_role("link", name="Granskningslogg").click()
    current = page.get_by_role("navigation", name="Huvudmeny").locator("[aria-current=page]")
    expect(current).to_have_text(["Granskningslogg"])  # one current page, not the whole admin area
    with live_server.session() as db:
        total = db.exec(select(func.count()).select_from(AuditEvent)).one()
        created = db.exec(select(func.count()).where(AuditEvent.action == "group.created")).one()
    expect(page.locator("#audit-count")).to_contain_text(f"{total} händelser")

    page.get_by_label("Händelse", exact=True).select_option(label=ACTION_NAMES["group.created"])
    expect(page.locator("#audit-count")).to_have_text(f"{created} händelser")
    expect(page).to_have_url(re.compile(r"action=group\.created"))
    cells = page.locator("#audit-results tbody tr td:nth-child(3)")
    expect(cells).to_have_count(created)
    expect(cells).to_have_text([ACTION_NAMES["group.created"]] * created)

    # The filtered address is a page of its own (history, reload).
    page.reload()
    expect(page.get_by_label("Händelse", exact=True)).to_have_value("group.created")
    expect(page.locator("#audit-count")).to_have_text(f"{created} händelser")
