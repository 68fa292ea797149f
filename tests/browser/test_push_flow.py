"""Push in a real browser: a central administrator switches to push (with confirmation), sees Skolverket's
answers on a pupil in the editor (a refusal and a 3047 warning), and the operator resends from /ops.

Its own live server and database (the method is a central setting: the shared demo server stays pull),
talking to the fake nutid and the fake Provisioning API; push jobs run here, step by step.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from redis import Redis
from sqlmodel import select

from dnp.demo.users import CENTRAL_ADMIN
from dnp.demo.users import OPERATOR
from dnp.groups.models import TestGroup
from dnp.groups.models import TestGroupMember
from dnp.jobs import context as job_context
from tests.browser.conftest import DESKTOP
from tests.browser.conftest import TABLET
from tests.browser.conftest import TIMEOUT
from tests.browser.live import load_small_demo
from tests.browser.live import sign_in
from tests.browser.live import start_live_server
from tests.browser.test_accessibility import _audit
from tests.conftest import fresh_database
from tests.delivery.push.conftest import PushEnv
from tests.delivery.push.conftest import push_settings
from tests.fakes.provisioning import FakeProvisioningApi

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture
def push_live(tmp_path_factory, tmp_path, worker_id, redis_url, auth_server):
    """A live server with the small demo, set up to push to a fake Provisioning API (method still pull)."""
    api = FakeProvisioningApi(auth_server).start()
    api.delay = 0.0
    cert = auth_server.make_client_cert(tmp_path, registered=True)
    database_url = fresh_database(tmp_path_factory, worker_id, suffix="_push_browser")
    live = start_live_server(database_url, redis_url, **push_settings(auth_server, api, cert, redis_url))
    load_small_demo(live)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    job_context.set_worker_app(live.app)
    with live.session() as session:
        group = session.exec(
            select(TestGroup).where(TestGroup.status == "ready").order_by(TestGroup.display_name)
        ).first()
        pupils = session.exec(
            select(TestGroupMember.person_id)
            .where(TestGroupMember.test_group_id == group.id, TestGroupMember.role == "pupil")
            .order_by(TestGroupMember.person_id)
        ).all()
    env = PushEnv(live.app, None, auth_server, api, redis, group.id)
    yield live, env, list(pupils)
    job_context.set_worker_app(None)
    live.stop()
    api.stop()
    assert not api.errors, api.errors


@pytest.fixture
def push_page(chromium, push_live):
    """A browser page on the push live server that fails the test on any console or script error."""
    live = push_live[0]
    context = chromium.new_context(viewport=DESKTOP, locale="sv-SE", base_url=live.url)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" or "Content Security Policy" in m.text
            else None
        ),
    )
    yield page
    context.close()
    assert not problems, problems
    assert not live.errors, live.errors


def _shots(page, name: str) -> list[str]:
    """Screenshot at desktop and tablet width and run axe at both; returns the violations."""
    SHOTS.mkdir(exist_ok=True)
    found: list[str] = []
    for size, label in ((DESKTOP, "1280"), (TABLET, "820x1180")):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"push-{name}-{label}.png"), full_page=True)
        found += _audit(page, f"{name} at {label}")
    page.set_viewport_size(DESKTOP)
    return found


def test_switch_to_push_see_answers_on_pupils_and_resend_from_ops(push_page, push_live):
    live, env, pupils = push_live
    page = push_page
    refused, warned = pupils[0], pupils[1]
    env.api.refuse[refused] = ("3011", "civicNo.value", "Personnumret är ogiltigt.")
    env.api.warn[warned] = ("3047", "eppn", "EPPN innehåller namnbokstäver.")
    found: list[str] = []

    sign_in(page, live.url, CENTRAL_ADMIN)
    page.goto("/installningar/")
    found += _shots(page, "settings-pull")
    page.get_by_role("link", name="Byt till Vi skickar (Provisioning API) …").click()
    confirm = page.locator("#method-confirm-card")
    expect(confirm).to_contain_text("Allt som är klart skickas")
    found += _shots(page, "settings-confirm")
    for button in page.locator("#method-confirm-card button, #method-confirm-card a.button").all():
        assert button.bounding_box()["height"] >= 44
    with page.expect_navigation():
        confirm.get_by_role("button", name="Ja, byt till Vi skickar (Provisioning API)").click()
    expect(page.locator(".flash.success")).to_contain_text("Allt som är klart skickas till Skolverket")
    expect(page.locator("#method-push")).to_contain_text("Används nu")
    found += _shots(page, "settings-push")

    env.settle()
    assert env.group_id in env.api.stored("groups")

    page.goto("/installningar/skolverket")
    page.get_by_role("button", name="Testa anslutningen").click()
    expect(page.locator("#connection-panel .flash.success")).to_contain_text("anslutningen fungerar")
    found += _shots(page, "connection-push")
    page.goto("/installningar/forberedelser")
    expect(page.locator("main")).not_to_contain_text("prenumer")
    found += _shots(page, "checklist-push")

    page.goto(f"/provgrupper/{env.group_id}")
    expect(page.locator("#push-refused")).to_contain_text("Skolverket avvisade 1 person")
    row = page.locator(f"#member-{refused}")
    expect(row).to_contain_text("Avvisad av Skolverket")
    expect(row).to_contain_text("Personnumret är ogiltigt.")
    expect(row).to_contain_text("kod 3011")
    row = page.locator(f"#member-{warned}")
    expect(row).to_contain_text("Godkänd med varning")
    expect(row).to_contain_text("bokstäver ur namnet")
    expect(row).to_contain_text("kod 3047")
    found += _shots(page, "editor-answers")
    with live.session() as session:
        unit_id = session.get(TestGroup, env.group_id).school_unit_id
    page.goto(f"/provgrupper/enheter/{unit_id}")
    expect(page.locator("main")).to_contain_text("1 avvisade")
    found += _shots(page, "unit-answers")

    page.get_by_role("button", name="Logga ut").first.click()
    env.api.refuse.clear()  # the register was fixed
    sign_in(page, live.url, OPERATOR)
    page.goto("/ops/")
    section = page.locator("#push")
    expect(section).to_contain_text("3011 (civicNo.value)")
    found += _shots(page, "ops-push")
    section.get_by_role("button", name=re.compile(f"^Skicka om {refused}$")).click()
    expect(page.locator("#ops-panel .flash.success")).to_contain_text("skickas om till Skolverket")
    env.settle()
    assert env.objects("Person")[refused].status == "Success"
    page.goto("/ops/")
    expect(page.locator("#push")).to_contain_text("Inga objekt med fel")
    assert found == [], "\n".join(found)
