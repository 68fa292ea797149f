"""Screenshots of the main pages at desktop and tablet width, for a person to look at (not a test).

Starts the live server with the small demo municipality (a fresh SQLite database) and saves full-page
PNGs to ``screenshots/<width>/``.

    .venv/bin/python bench/screenshots.py [--out screenshots] [--redis-url redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from sqlmodel import select  # noqa: E402

from dnp.auth.models import RoleGrant  # noqa: E402
from dnp.demo.generator import DemoMunicipality  # noqa: E402
from dnp.demo.users import CENTRAL_ADMIN  # noqa: E402
from dnp.demo.users import NO_ROLE  # noqa: E402
from dnp.groups.changes import withdraw  # noqa: E402
from dnp.groups.facts import validate  # noqa: E402
from dnp.groups.models import TestGroup  # noqa: E402
from dnp.migrate import upgrade  # noqa: E402
from dnp.register.models import Organisation  # noqa: E402
from dnp.register.models import RegisterGroup  # noqa: E402
from dnp.register.models import skolverket_id  # noqa: E402
from tests.browser.live import DEMO_SEED  # noqa: E402
from tests.browser.live import launch_chromium  # noqa: E402
from tests.browser.live import load_small_demo  # noqa: E402
from tests.browser.live import sign_in  # noqa: E402
from tests.browser.live import start_live_server  # noqa: E402

WIDTHS = {1280: 900, 820: 1180}


def _facts(live) -> dict:
    """Ids to visit: the unit with broken pupils, its admin, a group with errors and one without."""
    unit_id = skolverket_id(DemoMunicipality(DEMO_SEED, "small").unit_codes[0])
    with live.session() as session:
        admin = session.exec(select(RoleGrant.eppn).where(RoleGrant.school_unit_id == unit_id)).first()
        groups = session.exec(
            select(TestGroup).where(TestGroup.school_unit_id == unit_id, TestGroup.status == "draft")
        ).all()
        ready = session.exec(
            select(TestGroup).where(TestGroup.school_unit_id == unit_id, TestGroup.status == "ready")
        ).first()
        withdraw(CENTRAL_ADMIN, ready, session=session)  # all three statuses on the unit's overview
        session.commit()
        broken = next(g for g in groups if any(i.blocking for i in validate(g, session=session)))
        clean = next(g for g in groups if not any(i.blocking for i in validate(g, session=session)))
        classes = session.exec(
            select(RegisterGroup.display_name).where(
                RegisterGroup.school_unit_id == unit_id, RegisterGroup.display_name.in_(["9A", "9B"])
            )
        ).all()
        empty_unit = session.exec(
            select(Organisation.id)
            .where(Organisation.organisation_type == "Skolenhet")
            .where(~Organisation.id.in_(select(TestGroup.school_unit_id)))
        ).first()
    return {
        "unit": unit_id,
        "admin": admin,
        "broken": broken.id,
        "clean": clean.id,
        "classes": sorted(classes),
        "empty_unit": empty_unit,
    }


def shoot(browser, base: str, out: Path, width: int, facts: dict) -> list[Path]:
    """Every screen at one width; returns the files written."""
    folder = out / str(width)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def context():
        created = browser.new_context(viewport={"width": width, "height": WIDTHS[width]}, locale="sv-SE")
        created.set_default_timeout(10_000)
        return created

    def save(page, name: str, element: str | None = None) -> None:
        path = folder / f"{name}.png"
        if element:
            page.locator(element).screenshot(path=path)
        else:
            page.screenshot(path=path, full_page=True)
        written.append(path)

    with context() as anonymous:
        page = anonymous.new_page()
        page.goto(f"{base}/auth/login")
        save(page, "01-login")
        page.goto(f"{base}/auth/dev-login")
        save(page, "02-dev-login")
        sign_in(page, base, NO_ROLE)
        save(page, "03-no-access")

    with context() as central:
        page = central.new_page()
        sign_in(page, base, CENTRAL_ADMIN)
        save(page, "04-start")
        page.goto(f"{base}/provgrupper/")
        save(page, "05-central-overview")
        page.goto(f"{base}/provgrupper/enheter/{facts['empty_unit']}")
        save(page, "07-unit-overview-empty")
        page.goto(f"{base}/admin/access")
        page.get_by_label("Person (sök på namn eller EPPN)").press_sequentially("ander", delay=20)
        page.locator("#people-results li").first.wait_for()
        save(page, "12-access-management")
        page.goto(f"{base}/admin/audit")
        save(page, "13-audit-log")

    with context() as school:
        page = school.new_page()
        sign_in(page, base, facts["admin"])
        page.goto(f"{base}/provgrupper/enheter/{facts['unit']}")
        save(page, "06-unit-overview")
        page.goto(f"{base}/provgrupper/enheter/{facts['unit']}/ny")
        page.get_by_label("Nationellt prov").select_option(label="MA åk 9")
        for name in facts["classes"]:
            page.get_by_role("checkbox", name=re.compile(rf"^{name} \d+ elever$")).check()
            expect(page.locator("body")).not_to_have_class(re.compile(r"\bis-loading\b"))
        page.locator("#preview li").first.wait_for()
        save(page, "08-new-group-preview")
        page.goto(f"{base}/provgrupper/{facts['broken']}")
        save(page, "09-editor-with-errors")
        save(page, "10-validation-panel", element="#validation")
        page.goto(f"{base}/provgrupper/{facts['clean']}")
        page.get_by_role("link", name="Klar att skicka").click()
        page.locator("#confirm").wait_for()
        save(page, "11-ready-confirmation")
        page.goto(f"{base}/provgrupper/{facts['clean']}/klar")
        save(page, "11b-ready-confirmation-page")
        page.goto(f"{base}/provgrupper/enheter/okand")
        save(page, "14-not-found")
    return written


def main() -> None:
    """Start the server, shoot both widths, print the files."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{folder}/screenshots.sqlite3"
        upgrade(database_url)
        live = start_live_server(database_url, options.redis_url)
        try:
            load_small_demo(live)
            facts = _facts(live)
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for width in WIDTHS:
                    for path in shoot(browser, live.url, Path(options.out), width, facts):
                        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
                browser.close()
        finally:
            live.stop()
    if live.errors:
        raise SystemExit(f"server errors: {live.errors}")


if __name__ == "__main__":
    main()
