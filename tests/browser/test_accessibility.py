"""axe-core on every screen at tablet and laptop width, signed in as each role: no WCAG 2.1 AA violations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from dnp.demo.users import CENTRAL_ADMIN
from dnp.demo.users import NO_ROLE
from dnp.demo.users import OPERATOR
from dnp.groups.models import TestGroup
from tests.browser.conftest import LAPTOP
from tests.browser.conftest import TABLET
from tests.browser.live import sign_in

pytestmark = pytest.mark.browser
# Installed by `make test` (npm ci in tests/browser, the version pinned in package-lock.json).
AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
AUDIT = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    resultTypes: ["violations"],
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " – " + n.failureSummary.split("\\n")[1]),
  }));
}"""


def _sign_out(page) -> None:
    """Sign out with the header's button, as a person would (the server ends the session)."""
    with page.expect_navigation():
        page.get_by_role("button", name="Logga ut").first.click()


def _audit(page, screen: str) -> list[str]:
    """The violations axe-core finds on the page as it is now, one line each (empty when none)."""
    # Evaluated through the DevTools protocol: the app's Content-Security-Policy forbids injected <script>s.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    return [f"{screen}: {v['id']} ({v['impact']}) {v['help']}: {v['nodes']}" for v in page.evaluate(AUDIT)]


def _screens(page, live_server, demo, draft: TestGroup) -> list[str]:
    """Every screen of a school administrator, each audited as it is shown (folds open, previews filled)."""
    found: list[str] = []
    unit = demo.first.id
    page.goto(f"/provgrupper/enheter/{unit}")
    found += _audit(page, "unit overview")
    page.goto(f"/provgrupper/enheter/{unit}/ny")
    found += _audit(page, "new group, empty")
    page.get_by_label("Nationellt prov").select_option(label="MA åk 9")
    page.get_by_role("checkbox", name=re.compile(r"^9A \d+ elever$")).check()
    expect(page.locator("#preview [role=status]")).to_contain_text("elever")
    page.locator("summary", has_text="Undervisningsgrupper").click()
    page.get_by_text(re.compile(r"^Visa alla \d+ elever$")).click()
    found += _audit(page, "new group, preview")
    page.goto(f"/provgrupper/{draft.id}")
    found += _audit(page, "editor")
    page.get_by_label("Lägg till personal från skolenheten").focus()
    expect(page.locator("#staff-results li").first).to_be_visible()
    page.get_by_label("Lägg till elev").fill("9B")
    expect(page.locator("#pupil-results li").first).to_be_visible()
    page.get_by_text("Byt namn").click()
    found += _audit(page, "editor, searches open")
    page.get_by_role("link", name="Klar att skicka …").click()
    expect(page.locator("#confirm")).to_be_visible()
    found += _audit(page, "editor, confirm ready")
    page.goto(f"/provgrupper/{draft.id}/klar")
    found += _audit(page, "confirm ready page")
    page.goto(f"/provgrupper/enheter/{unit}/per-klass")
    found += _audit(page, "one group per class")
    page.goto("/")
    found += _audit(page, "start")
    return found


@pytest.mark.parametrize("viewport", [TABLET, LAPTOP], ids=["820x1180", "1280x800"])
def test_no_wcag_aa_violations_on_any_screen(page, live_server, demo, viewport, console_errors_expected):
    # The no-access page answers 403 and the unknown unit 404, on purpose; Chromium logs both.
    console_errors_expected.append(re.compile(r"status of (403|404)"))
    assert AXE.exists(), f"{AXE} saknas: kör `make test` (som kör npm ci i tests/browser)"
    page.set_viewport_size(viewport)
    found: list[str] = []
    page.goto("/auth/login")
    found += _audit(page, "sign-in")
    page.goto("/auth/dev-login")
    found += _audit(page, "development sign-in")
    sign_in(page, live_server.url, NO_ROLE)
    found += _audit(page, "no access")

    _sign_out(page)
    sign_in(page, live_server.url, demo.first.admin)
    with live_server.session() as db:
        draft = db.exec(
            select(TestGroup).where(
                TestGroup.school_unit_id == demo.first.id, TestGroup.display_name == "MA åk 6 6B"
            )
        ).one()
    found += _screens(page, live_server, demo, draft)

    _sign_out(page)
    sign_in(page, live_server.url, CENTRAL_ADMIN)
    for path, screen in [
        ("/provgrupper/", "central overview"),
        ("/installningar/", "settings"),
        ("/installningar/skolverket", "connection to Skolverket"),
        ("/installningar/forberedelser", "preparation checklist"),
        ("/installningar/overforingsmetod?method=push", "transfer method confirmation"),
        ("/admin/access", "access management"),
        ("/admin/audit", "audit log"),
        ("/provgrupper/enheter/okand", "not found"),
    ]:
        page.goto(path)
        found += _audit(page, screen)
    page.goto("/admin/access")
    page.get_by_label("Person (sök på namn eller EPPN)").press_sequentially("ander")
    expect(page.locator("#people-results li").first).to_be_visible()
    found += _audit(page, "access management, search")

    _sign_out(page)
    sign_in(page, live_server.url, OPERATOR)
    for path, screen in [("/", "operator start"), ("/ops/", "operations")]:
        page.goto(path)
        found += _audit(page, screen)
    _sign_out(page)
    assert found == [], "\n".join(found)
