"""Keyboard only at tablet width: new group, add a teacher, mark ready; the focus visible throughout."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from dnp.common.people import person_label
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from tests.browser.conftest import TABLET
from tests.browser.live import sign_in
from tests.browser.test_group_flow import _register

pytestmark = pytest.mark.browser
NAME = "Tangentbord MA åk 9 9B"
# Key presses besides typing, from the unit overview to the group marked ready (class 9B, the last class).
# Before the tablet layout (issue 13): 122, 53 of them to reach "Skapa provgrupp"; now 58 and 39.
MOST_KEYS = 60
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    id: el.id, tag: el.tagName, type: el.type || "",
    text: (el.innerText || el.value || "").trim().slice(0, 60),
    label: el.labels && el.labels.length ? el.labels[0].innerText.trim() : "",
    visible: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
    inView: (() => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; })(),
  };
}"""


class Keyboard:
    """Presses keys, counts them, and checks after every Tab that the focus is visible and on screen."""

    def __init__(self, page):
        self.page = page
        self.presses = 0

    def press(self, key: str) -> dict | None:
        """One key; after Tab, returns what has the focus (other keys may start a navigation)."""
        self.page.keyboard.press(key)
        self.presses += 1
        if key not in ("Tab", "Shift+Tab"):
            return None
        focused = self.page.evaluate(FOCUSED)
        if focused["tag"] != "BODY":
            assert focused["visible"], focused
            assert focused["inView"], focused  # the browser scrolls it into view: not under a sticky bar
        return focused

    def type(self, text: str) -> None:
        """Letters into the focused field, one press each."""
        self.page.keyboard.type(text)
        self.presses += len(text)

    def tab_to(self, matches, backwards: bool = False, most: int = 60) -> dict:
        """Tab (or Shift+Tab) until ``matches(focused)``."""
        trail = []
        for _ in range(most):
            focused = self.press("Shift+Tab" if backwards else "Tab")
            if matches(focused):
                return focused
            trail.append(focused["id"] or focused["text"] or focused["tag"])
        raise AssertionError(f"not reached in {most} presses: {trail}")


def test_keyboard_only_new_group_teacher_and_ready(page, live_server, demo):
    register = _register(live_server, demo.first.id)
    teacher = register["teachers"][0]
    page.set_viewport_size(TABLET)
    sign_in(page, live_server.url, demo.first.admin)
    page.goto(f"/provgrupper/enheter/{demo.first.id}")
    keys = Keyboard(page)

    keys.tab_to(lambda f: f["text"] == "+ Ny provgrupp")
    keys.press("Enter")
    expect(page.get_by_role("heading", name="Ny provgrupp")).to_be_visible()
    keys.tab_to(lambda f: f["id"] == "activity_id")
    keys.type("MA åk 9")  # type-ahead picks the test
    expect(page.get_by_label("Nationellt prov")).to_have_value(re.compile(".+"))
    keys.tab_to(lambda f: f["id"] == "name")
    keys.type(NAME)
    keys.tab_to(lambda f: f["type"] == "checkbox" and f["label"].split()[:1] == ["9B"])
    keys.press("Space")
    expect(page.locator("#preview [role=status]")).to_contain_text("elever")
    keys.tab_to(lambda f: f["text"].startswith("Skapa provgrupp"))
    to_create = keys.presses
    keys.press("Enter")
    expect(page.get_by_role("heading", name=NAME)).to_be_visible()

    keys.tab_to(lambda f: f["id"] == "staff-search")
    keys.type(teacher.family_name)
    result = page.locator("#staff-results").get_by_role("button", name=person_label(teacher))
    expect(result).to_be_visible()
    keys.tab_to(lambda f: f["text"].startswith(person_label(teacher)))
    keys.press("Enter")
    expect(page.locator("#staff-heading .badge")).to_have_text("1")
    expect(page.locator("#staff-search")).to_be_focused()
    keys.tab_to(lambda f: f["text"] == "Klar att skicka …", backwards=True)
    keys.press("Enter")
    expect(page.locator("#confirm")).to_be_visible()
    expect(page.get_by_role("button", name="Ja, markera som klar")).to_be_focused()
    keys.press("Enter")
    expect(page.locator("#group-name .badge")).to_have_text("Klar")

    with live_server.session() as db:
        group = db.exec(select(TestGroup).where(TestGroup.display_name == NAME)).one()
        staff = db.exec(
            select(TestGroupMember.person_id).where(
                TestGroupMember.test_group_id == group.id, TestGroupMember.role == "staff"
            )
        ).all()
    assert group.status == "ready" and staff == [teacher.id]
    typed = len("MA åk 9") + len(NAME) + len(teacher.family_name)
    print(f"key presses: {keys.presses} ({keys.presses - typed} besides typing), {to_create} to create")
    assert keys.presses - typed <= MOST_KEYS, keys.presses - typed
