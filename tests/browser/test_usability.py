"""Feel: a loading indicator on every HTMX request, keyboard use with visible focus, 44 px touch targets."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from dnp.common.people import person_label
from dnp.demo.users import CENTRAL_ADMIN
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.register.models import Person
from tests.browser.conftest import TABLET
from tests.browser.live import sign_in

pytestmark = pytest.mark.browser
LOADING = re.compile(r"\bis-loading\b")


def _draft_group(live, unit_id: str) -> TestGroup:
    """A demo draft at the unit without blocking errors (the last demo group of each unit)."""
    with live.session() as db:
        return db.exec(
            select(TestGroup).where(
                TestGroup.school_unit_id == unit_id, TestGroup.display_name == "MA åk 6 6B"
            )
        ).one()


def _held(page, pattern: str) -> list:
    """Hold back requests to URLs matching ``pattern`` until the test lets them go."""
    routes: list = []
    page.route(re.compile(pattern), lambda route: routes.append(route))
    return routes


def _shows_loading_until_answered(page, routes: list) -> None:
    body = page.locator("body")
    expect(body).to_have_class(LOADING)
    # The class is set in the page before the held request reaches Playwright's route handler in this
    # process: let the handler run before counting (waiting dispatches Playwright's events).
    for _ in range(100):
        if routes:
            break
        page.wait_for_timeout(50)
    assert len(routes) == 1
    expect(page.locator("#htmx-progress")).not_to_have_css("width", "0px")  # the bar grows (a transition)
    routes.pop().continue_()
    expect(body).not_to_have_class(LOADING)


def test_every_htmx_request_shows_the_loading_indicator(page, live_server, demo, console_errors_expected):
    group = _draft_group(live_server, demo.first.id)
    sign_in(page, live_server.url, demo.first.admin)

    page.goto(f"/provgrupper/enheter/{demo.first.id}/ny")
    expect(page.locator("body")).not_to_have_class(LOADING)
    routes = _held(page, r"/forhandsvisning$")
    page.get_by_label("Nationellt prov").select_option(label="MA åk 9")
    _shows_loading_until_answered(page, routes)
    page.get_by_role("checkbox", name=re.compile(r"^9B \d+ elever$")).check()
    _shows_loading_until_answered(page, routes)
    expect(page.locator("#preview [role=status]")).to_contain_text("elever")

    page.goto(f"/provgrupper/{group.id}")
    routes = _held(page, r"/sok-elever\?")
    page.get_by_label("Lägg till elev").press_sequentially("9A")
    _shows_loading_until_answered(page, routes)
    routes = _held(page, r"/sok-personal\?")
    page.get_by_label("Lägg till personal från skolenheten").focus()
    _shows_loading_until_answered(page, routes)
    routes = _held(page, r"/klar$")
    page.get_by_role("link", name="Klar att skicka …").click()
    _shows_loading_until_answered(page, routes)
    expect(page.locator("#confirm")).to_be_visible()
    routes = _held(page, r"/namn$")
    page.get_by_text("Byt namn").click()
    page.get_by_label("Nytt namn").fill("MA åk 6 6B")
    page.get_by_role("button", name="Spara namn").click()
    _shows_loading_until_answered(page, routes)
    expect(page.locator(".flash.success")).to_have_text("Namnet är ändrat.")

    # A failed request ends the indicator too, and says so (the browser and htmx log the 500: expected).
    console_errors_expected.append(
        re.compile(r"status of 500|Response Status Error Code 500|htmx:responseError")
    )
    page.route(re.compile(r"/sok-elever\?"), lambda route: route.fulfill(status=500, body="fel"))
    page.get_by_label("Lägg till elev").fill("9B")
    expect(page.locator("#status")).to_have_text("Något gick fel (500). Försök igen.")
    expect(page.locator("body")).not_to_have_class(LOADING)


FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    id: el.id, tag: el.tagName, text: (el.innerText || el.value || "").trim().slice(0, 40),
    outline: style.outlineStyle, width: parseFloat(style.outlineWidth),
  };
}"""


def test_keyboard_only_reaches_search_and_buttons_with_visible_focus(page, live_server, demo):
    group = _draft_group(live_server, demo.first.id)
    sign_in(page, live_server.url, demo.first.admin)
    page.goto(f"/provgrupper/{group.id}")
    seen = []
    for _ in range(16):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["outline"] != "none" and focused["width"] >= 2, focused  # focus is visible
        seen.append(focused)
        if focused["text"].startswith("Elever"):
            break
    texts = [f["text"] for f in seen]
    assert texts[0] == "Hoppa till innehållet"
    assert {"Byt namn", "Ta bort utkast", "Personal\n2"} <= set(texts[:-1])
    assert re.fullmatch(r"Elever\s+\d+", seen[-1]["text"])
    # The in-page link moves the keyboard to the pupils: the next Tab is their search.
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["id"] == "pupil-search"

    # Search with the keyboard, Tab to a result, Enter adds the pupil; focus stays in the editor.
    page.keyboard.type("7A")
    results = page.locator("#pupil-results button")
    expect(results.first).to_be_visible()
    chosen = results.first.locator(".choice-title").inner_text()
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["text"].startswith(chosen)
    page.keyboard.press("Enter")
    expect(page.locator(".flash.success")).to_have_text("Eleven är tillagd.")
    expect(page.locator("#pupil-search")).to_be_focused()
    with live_server.session() as db:
        added = db.exec(
            select(Person)
            .join(TestGroupMember, TestGroupMember.person_id == Person.id)
            .where(TestGroupMember.test_group_id == group.id, TestGroupMember.role == "pupil")
            .where(TestGroupMember.origin == "manual")
        ).all()
    assert chosen in {person_label(person) for person in added}

    # The remaining controls are reachable too: Tab on from the search to the class picker and its button.
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["id"] == "add-class"
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["text"] == "Lägg till"


SMALL_TARGETS = """() => {
  const small = [];
  const controls = document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary");
  for (const el of controls) {
    if (el.closest(".visually-hidden, .skip-link")) continue;
    if (el.matches("p a, li > .hint a")) continue;  // links inside running text (WCAG 2.5.8 exception)
    // A check box or radio button is tapped through its label.
    const target = el.matches("[type=checkbox], [type=radio]") ? el.closest("label") || el : el;
    const box = target.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not rendered (closed details, hidden)
    if (box.height < 44 || box.width < 44) {
      small.push(`${el.tagName} ${(el.innerText || el.name || el.id || "").trim().slice(0, 30)}: ` +
                 `${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}"""


def test_touch_targets_are_at_least_44_px_at_tablet_width(page, live_server, demo):
    page.set_viewport_size(TABLET)
    group = _draft_group(live_server, demo.first.id)
    sign_in(page, live_server.url, demo.first.admin)
    for path in (f"/provgrupper/enheter/{demo.first.id}", f"/provgrupper/{group.id}"):
        page.goto(path)
        small = page.evaluate(SMALL_TARGETS)
        assert small == [], (path, *small)
    page.get_by_text("Byt namn").click()
    page.get_by_label("Lägg till personal från skolenheten").focus()
    expect(page.locator("#staff-results li").first).to_be_visible()
    page.get_by_role("link", name="Klar att skicka …").click()
    expect(page.locator("#confirm")).to_be_visible()
    assert page.evaluate(SMALL_TARGETS) == []


OVERFLOW = """() => {
  const wide = [];
  if (document.documentElement.scrollWidth > window.innerWidth) wide.push("page");
  for (const el of document.querySelectorAll(".table-wrap, .card, th, td")) {
    if (el.scrollWidth > el.clientWidth + 1) {
      wide.push(`${el.className || el.tagName} "${el.innerText.trim().slice(0, 30)}"`);
    }
  }
  return wide;
}"""


def test_nothing_overflows_sideways_at_tablet_width(page, live_server, demo):
    page.set_viewport_size(TABLET)
    group = _draft_group(live_server, demo.first.id)
    sign_in(page, live_server.url, demo.first.admin)
    pages = [
        f"/provgrupper/enheter/{demo.first.id}",
        f"/provgrupper/{group.id}",
        f"/provgrupper/enheter/{demo.first.id}/ny",
    ]
    for path in pages:
        page.goto(path)
        assert page.evaluate(OVERFLOW) == [], path
    page.context.clear_cookies()
    sign_in(page, live_server.url, CENTRAL_ADMIN)
    for path in ("/provgrupper/", "/admin/access", "/admin/audit", "/"):
        page.goto(path)
        assert page.evaluate(OVERFLOW) == [], path
