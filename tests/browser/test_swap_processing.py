"""New HTMX content works the moment it is on screen: no window where Enter posts the plain form."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dnp.common.people import person_label
from tests.browser.conftest import TABLET
from tests.browser.live import sign_in
from tests.browser.test_group_flow import _register

pytestmark = pytest.mark.browser
# Records, in the microtask right after the staff results are inserted (before any key press can land),
# whether HTMX has already wired up each inserted form. With the default 20 ms settle delay it had not:
# Enter on a result in that window (a loaded machine) posted the plain form, reloaded the page and lost
# the focus that the HTMX answer puts back on the staff search.
WATCH = """() => {
  window.__unprocessed = [];
  window.__inserted = 0;
  new MutationObserver(() => {
    document.querySelectorAll("#staff-results form").forEach((form) => {
      window.__inserted += 1;
      const data = form["htmx-internal-data"];
      if (!data || !data.initHash) { window.__unprocessed.push(form.action); }
    });
  }).observe(document.getElementById("staff-results"), {childList: true, subtree: true});
}"""


def test_search_results_are_live_as_soon_as_they_show(page, live_server, demo):
    register = _register(live_server, demo.first.id)
    teacher = register["teachers"][0]
    page.set_viewport_size(TABLET)
    sign_in(page, live_server.url, demo.first.admin)
    page.goto(f"/provgrupper/enheter/{demo.first.id}")
    page.get_by_role("link", name="+ Ny provgrupp").click()
    page.get_by_label("Nationellt prov").select_option(index=1)
    page.get_by_label("Namn").fill("Bearbetning MA")
    page.get_by_role("button", name="Skapa provgrupp").click()
    expect(page.get_by_role("heading", name="Bearbetning MA")).to_be_visible()
    page.evaluate(WATCH)
    page.locator("#staff-search").focus()
    result = page.locator("#staff-results").get_by_role("button", name=person_label(teacher))
    expect(result).to_be_visible()
    assert page.evaluate("window.__inserted") > 0
    assert page.evaluate("window.__unprocessed") == []
    result.press("Enter")
    expect(page.locator("#staff-heading .badge")).to_have_text("1")
    expect(page.locator("#staff-search")).to_be_focused()
