"""A school administrator builds a group from two classes, edits it, fixes it, sends it and withdraws it."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from dnp.audit.models import AuditEvent
from dnp.common.people import person_label
from dnp.groups.models import TestActivity
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.groups.models import TestGroupSource
from dnp.groups.models import TestOccasion
from dnp.groups.terms import upcoming_terms
from dnp.register.models import Duty
from dnp.register.models import Person
from dnp.register.models import RegisterGroup
from dnp.register.models import RegisterGroupMembership
from tests.browser.conftest import TABLET
from tests.browser.live import sign_in

pytestmark = pytest.mark.browser
NAME = "Webbtest MA åk 9 A+B"


def _register(live, unit_id: str) -> dict:
    """Class ids and members, a pupil of 8A and two teachers with names unique at the unit."""
    with live.session() as db:
        groups = {
            g.display_name: g
            for g in db.exec(select(RegisterGroup).where(RegisterGroup.school_unit_id == unit_id))
        }

        def members(name: str) -> list[Person]:
            return list(
                db.exec(
                    select(Person)
                    .join(RegisterGroupMembership, RegisterGroupMembership.person_id == Person.id)
                    .where(RegisterGroupMembership.group_id == groups[name].id)
                ).all()
            )

        def unique(people: list[Person]) -> list[Person]:
            labels = [person_label(p) for p in people]
            return [p for p, label in zip(people, labels, strict=True) if labels.count(label) == 1]

        everyone = [m for name in groups for m in members(name)]
        outsiders = [p for p in unique(members("8A")) if p.security_marking == "Ingen"]
        outsiders = [p for p in outsiders if sum(person_label(e) == person_label(p) for e in everyone) == 1]
        teachers = db.exec(
            select(Person)
            .join(Duty, Duty.person_id == Person.id)
            .where(
                Duty.school_unit_id == unit_id, Duty.duty_role == "Lärare", Person.security_marking == "Ingen"
            )
            .order_by(Person.family_name)
        ).all()
        return {
            "groups": groups,
            "9A": members("9A"),
            "9B": members("9B"),
            "MA 9A": members("MA 9A"),
            "outsider": outsiders[0],
            "teachers": unique(list(teachers))[:2],
        }


def _group(live, name: str) -> tuple[TestGroup, dict[tuple[str, str], TestGroupMember], set[str], str, str]:
    with live.session() as db:
        group = db.exec(select(TestGroup).where(TestGroup.display_name == name)).one()
        members = {
            (m.person_id, m.role): m
            for m in db.exec(select(TestGroupMember).where(TestGroupMember.test_group_id == group.id))
        }
        sources = set(
            db.exec(
                select(TestGroupSource.register_group_id).where(TestGroupSource.test_group_id == group.id)
            )
        )
        occasion = db.get(TestOccasion, group.occasion_id)
        activity = db.get(TestActivity, occasion.activity_id)
        return group, members, sources, occasion.term, activity.display_name


def _active(members, role: str) -> set[str]:
    return {person_id for (person_id, r), m in members.items() if r == role and not m.excluded}


def _audited(live, group_id: str, action: str, actor: str) -> int:
    with live.session() as db:
        return len(
            db.exec(
                select(AuditEvent).where(
                    AuditEvent.entity_id == group_id, AuditEvent.action == action, AuditEvent.actor == actor
                )
            ).all()
        )


def test_school_admin_builds_fixes_sends_and_withdraws_a_group(page, live_server, demo):
    register = _register(live_server, demo.first.id)
    class_a, class_b = register["9A"], register["9B"]
    broken = {p.family_name: p for p in class_a if p.family_name in ("Utaneppn", "Utanårskurs")}
    assert len(broken) == 2
    term = upcoming_terms(date.today())[1]

    sign_in(page, live_server.url, demo.first.admin)
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Provgrupper").click()
    expect(page).to_have_url(f"{live_server.url}/provgrupper/enheter/{demo.first.id}")
    page.get_by_role("link", name="+ Ny provgrupp").first.click()
    expect(page.get_by_role("heading", name="Ny provgrupp")).to_be_visible()

    # The live preview: one class, the same pupils again through a teaching group (merged), two classes.
    page.get_by_label("Nationellt prov").select_option(label="MA åk 9")
    page.get_by_label("Termin").select_option(term)
    summary = page.locator("#preview [role=status]")
    page.get_by_role("checkbox", name=re.compile(r"^9A \d+ elever$")).check()
    expect(summary).to_have_text(f"{len(class_a)} elever · 1 passar inte provet")
    # Short: counts per class and the problems first; the whole list only on demand.
    expect(page.locator("#preview li.misfit")).to_have_count(1)
    expect(page.locator("#preview li.misfit")).to_contain_text("Greta Utanårskurs")
    expect(page.locator("#preview .preview-classes tbody tr")).to_have_count(1)
    expect(page.locator("#preview .all-pupils li").first).to_be_hidden()
    assert {p.id for p in register["MA 9A"]} < {p.id for p in class_a}
    page.locator("summary", has_text="Undervisningsgrupper").click()  # folded: seldom needed
    teaching = page.get_by_role("checkbox", name=re.compile(r"^MA 9A \d+ elever$"))
    teaching.check()
    expect(summary).to_have_text(f"{len(class_a)} elever · 1 passar inte provet")
    teaching.uncheck()
    page.get_by_role("checkbox", name=re.compile(r"^9B \d+ elever$")).check()
    pupils = len({p.id for p in class_a + class_b})
    expect(summary).to_have_text(f"{pupils} elever · 1 passar inte provet")
    expect(page.locator("#preview .preview-classes tbody tr")).to_have_count(2)
    page.get_by_text(f"Visa alla {pupils} elever").click()
    expect(page.locator("#preview .all-pupils li")).to_have_count(pupils)
    expect(page.locator("#preview .all-pupils li").last).to_be_visible()

    page.get_by_label("Gruppens namn").fill(NAME)
    page.get_by_role("button", name="Skapa provgrupp").click()
    expect(page.get_by_role("heading", name=NAME)).to_be_visible()
    expect(page.get_by_role("navigation", name="Du är här")).to_contain_text(demo.first.name)  # a whole page
    expect(page).to_have_title(re.compile(re.escape(NAME)))
    group, members, sources, saved_term, test = _group(live_server, NAME)
    assert page.url == f"{live_server.url}/provgrupper/{group.id}"
    assert (group.status, group.follows_register, saved_term, test) == ("draft", True, term, "MA åk 9")
    assert sources == {register["groups"]["9A"].id, register["groups"]["9B"].id}
    assert _active(members, "pupil") == {p.id for p in class_a + class_b}
    assert group.school_unit_id == demo.first.id and group.created_by == demo.first.admin

    validation = page.locator("#validation")
    expect(validation).to_contain_text("2 fel")
    expect(page.get_by_role("button", name="Klar att skicka")).to_be_disabled()
    pupil_count = page.locator("#pupils-heading .badge")
    expect(pupil_count).to_have_text(str(pupils))

    # Add a pupil of another class by search-as-you-type, then remove them again.
    outsider = register["outsider"]
    page.get_by_label("Lägg till elev").press_sequentially(person_label(outsider), delay=15)
    page.locator("#pupil-results").get_by_role("button", name=person_label(outsider)).click()
    expect(pupil_count).to_have_text(str(pupils + 1))
    expect(page.locator(".flash.success")).to_have_text("Eleven är tillagd.")
    row = page.locator(f"#member-{outsider.id}")
    expect(row).to_contain_text("tillagd för hand")
    _, members, *_ = _group(live_server, NAME)
    assert members[(outsider.id, "pupil")].origin == "manual"
    row.get_by_role("button", name=f"Ta bort {person_label(outsider)}").click()
    expect(pupil_count).to_have_text(str(pupils))
    expect(page.locator(f"#member-{outsider.id}")).to_have_count(0)
    _, members, *_ = _group(live_server, NAME)
    assert (outsider.id, "pupil") not in members

    # Staff: the unit's list opens on focus; add two teachers, remove one.
    first, second = register["teachers"]
    staff_search = page.get_by_label("Lägg till personal från skolenheten")
    staff_search.click()
    expect(page.locator("#staff-results li").first).to_be_visible()
    page.locator("#staff-results").get_by_role("button", name=person_label(first)).click()
    staff_count = page.locator("#staff-heading .badge")
    expect(staff_count).to_have_text("1")
    page.get_by_label("Lägg till personal från skolenheten").press_sequentially(second.family_name, delay=15)
    page.locator("#staff-results").get_by_role("button", name=person_label(second)).click()
    expect(staff_count).to_have_text("2")
    page.locator(f"#member-{second.id}").get_by_role("button", name=f"Ta bort {person_label(second)}").click()
    expect(staff_count).to_have_text("1")
    _, members, *_ = _group(live_server, NAME)
    assert _active(members, "staff") == {first.id}

    # Fix the validation errors by taking out the two broken pupils: the panel follows live.
    page.locator(f"#member-{broken['Utaneppn'].id}").get_by_role("button").click()
    expect(validation).to_contain_text("1 fel")
    expect(page.get_by_role("button", name="Klar att skicka")).to_be_disabled()
    page.locator(f"#member-{broken['Utanårskurs'].id}").get_by_role("button").click()
    expect(validation).not_to_contain_text("fel")
    expect(validation).to_contain_text("Gruppen kan markeras som klar")
    _, members, *_ = _group(live_server, NAME)
    assert all(members[(p.id, "pupil")].excluded for p in broken.values())  # they stay out while following
    ready_link = page.get_by_role("link", name="Klar att skicka …")
    expect(ready_link).to_be_enabled()

    # Ready: the confirmation shows what Skolverket will receive.
    ready_link.click()
    confirm = page.locator("#confirm")
    pupils -= 2
    expect(confirm).to_contain_text(f"{pupils} elever och 1 personal")
    expect(confirm).to_contain_text(f"MA åk 9, {term}")
    confirm.get_by_role("button", name="Ja, markera som klar").click()
    expect(page.locator("#group-name .badge")).to_have_text("Klar")
    expect(page.locator(".flash.success")).to_contain_text("Gruppen är klar att skicka")
    group, members, *_ = _group(live_server, NAME)
    assert group.status == "ready" and group.ready_at is not None
    assert len(_active(members, "pupil")) == pupils
    assert _audited(live_server, group.id, "group.ready", demo.first.admin) == 1

    # Withdraw, accepting the browser's confirm dialog.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Dra tillbaka").click()
    expect(page.locator("#group-name .badge")).to_have_text("Tillbakadragen")
    group, *_ = _group(live_server, NAME)
    assert group.status == "withdrawn" and group.withdrawn_at is not None
    assert _audited(live_server, group.id, "group.withdrawn", demo.first.admin) == 1

    # Back on the overview the group is listed with its status and counts.
    page.get_by_role("link", name=demo.first.name).click()
    row = page.get_by_role("row", name=re.compile(re.escape(NAME)))
    expect(row).to_contain_text("Tillbakadragen")
    expect(row.locator("td.num").first).to_have_text(str(pupils))


def test_quick_taps_on_classes_show_the_latest_choice_and_log_nothing(page, live_server, demo):
    """A second tap before the first preview answered: nothing is cancelled, the latest choice wins."""
    register = _register(live_server, demo.first.id)
    both = len({p.id for p in register["9A"] + register["9B"]})
    page.set_viewport_size(TABLET)
    sign_in(page, live_server.url, demo.first.admin)
    page.goto(f"/provgrupper/enheter/{demo.first.id}/ny")
    held: list = []
    sent: list[str] = []

    def hold_first(route) -> None:
        sent.append(route.request.post_data or "")
        if len(sent) == 1:
            held.append(route)  # the first preview answers only when the test lets it
        else:
            route.continue_()

    page.route(re.compile(r"/forhandsvisning$"), hold_first)
    page.get_by_label("Nationellt prov").select_option(label="MA åk 9")
    page.get_by_role("checkbox", name=re.compile(r"^9A \d+ elever$")).check()  # no waiting between taps
    page.get_by_role("checkbox", name=re.compile(r"^9B \d+ elever$")).check()
    expect(page.locator("body")).to_have_class(re.compile(r"\bis-loading\b"))
    assert len(sent) == 1  # the later taps wait for the first answer (one queued request, the latest)
    held.pop().continue_()
    status = page.locator("#preview").get_by_role("status")
    expect(status).to_have_text(f"{both} elever · 1 passar inte provet")
    page.wait_for_load_state("networkidle")
    assert len(sent) == 2, sent  # the three taps cost two requests: the first and the latest
    assert sent[-1].count("register_group_ids") == 2
    expect(status).to_have_text(f"{both} elever · 1 passar inte provet")
    # The page fixture fails the test on any console error (htmx logs a cancelled request as one).


def test_quick_taps_in_the_editor_log_nothing(page, live_server, demo):
    """Two removals tapped at once and a search typed fast: no console error, no server error."""
    register = _register(live_server, demo.first.id)
    sign_in(page, live_server.url, demo.first.admin)
    page.set_viewport_size(TABLET)
    page.goto(f"/provgrupper/enheter/{demo.first.id}/ny")
    page.get_by_label("Nationellt prov").select_option(label="MA åk 9")
    page.get_by_role("checkbox", name=re.compile(r"^9B \d+ elever$")).check()
    page.get_by_label("Gruppens namn").fill("Snabba tryck")
    page.get_by_role("button", name="Skapa provgrupp").click()
    expect(page.get_by_role("heading", name="Snabba tryck")).to_be_visible()
    first, second = register["9B"][:2]
    buttons = [
        page.locator(f"#member-{p.id}").get_by_role("button", name=f"Ta bort {person_label(p)}")
        for p in (first, second)
    ]
    buttons[0].click()
    buttons[1].click(no_wait_after=True)
    page.get_by_label("Lägg till elev").press_sequentially("9A", delay=0)
    page.get_by_label("Lägg till elev").press_sequentially(" x", delay=0)
    page.wait_for_load_state("networkidle")
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bis-loading\b"))
