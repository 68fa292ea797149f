"""Browser fixtures: one live server with the small demo municipality and one Chromium per test process."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect
from playwright.sync_api import sync_playwright
from sqlmodel import select

from dnp.auth.models import RoleGrant
from dnp.demo.generator import DemoMunicipality
from dnp.groups.models import TestGroup
from dnp.register.models import Organisation
from dnp.register.models import skolverket_id
from tests.browser.live import DEMO_SEED
from tests.browser.live import launch_chromium
from tests.browser.live import load_small_demo
from tests.browser.live import start_live_server
from tests.conftest import _empty_tables
from tests.conftest import fresh_database

TABLET = {"width": 820, "height": 1180}
DESKTOP = {"width": 1280, "height": 900}
LAPTOP = {"width": 1280, "height": 800}
TIMEOUT = 10_000  # ms; the machine is shared, a slow answer is not a failure
expect.set_options(timeout=TIMEOUT)


@dataclass
class Unit:
    """A demo school unit and its school administrator."""

    id: str
    name: str
    admin: str


@dataclass
class Demo:
    """What the demo municipality holds that the tests use."""

    first: Unit  # has the deliberately broken pupils in 9A
    other: Unit  # another grundskola with groups of its own
    other_group_ids: list[str]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, worker_id, redis_url):
    """The real app over HTTP with the small demo municipality (a database of its own, loaded once)."""
    # Not the shared ``database_url``: other tests empty that one between tests.
    database_url = fresh_database(tmp_path_factory, worker_id, suffix="_browser")
    live = start_live_server(database_url, redis_url)
    _empty_tables(live.app.extensions["dnp.engine"])
    load_small_demo(live)
    yield live
    live.stop()


@pytest.fixture(scope="session")
def demo(live_server) -> Demo:
    """The units, admins and groups the tests work with."""
    with live_server.session() as session:
        units = session.exec(
            select(Organisation, RoleGrant.eppn)
            .join(RoleGrant, RoleGrant.school_unit_id == Organisation.id)
            .where(RoleGrant.role == "unit_admin")
            .order_by(Organisation.display_name)
        ).all()
        schools = [
            Unit(unit.id, unit.display_name, eppn) for unit, eppn in units if "GR" in unit.school_types
        ]
        broken_unit = skolverket_id(DemoMunicipality(DEMO_SEED, "small").unit_codes[0])
        first = next(unit for unit in schools if unit.id == broken_unit)
        other = next(unit for unit in schools if unit.id != broken_unit)
        group_ids = session.exec(select(TestGroup.id).where(TestGroup.school_unit_id == other.id)).all()
    return Demo(first, other, list(group_ids))


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole test process."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def console_errors_expected() -> list[re.Pattern]:
    """Console errors a test provokes on purpose (say, an answer of 500); any other fails the test."""
    return []


@pytest.fixture
def page(chromium, live_server, console_errors_expected):
    """A fresh browser context (no cookies) at desktop width.

    Fails on script errors, server crashes and on any console error (htmx logs cancelled requests, failed
    swaps and error answers there; Chromium logs CSP violations and failed loads): a person met them.
    """
    context = chromium.new_context(viewport=DESKTOP, locale="sv-SE", base_url=live_server.url)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def console(message) -> None:
        failed = message.type == "error" or "Content Security Policy" in message.text
        if failed and not any(pattern.search(message.text) for pattern in console_errors_expected):
            problems.append(f"console {message.type}: {message.text}")

    page.on("console", console)
    live_server.errors.clear()
    yield page
    context.close()
    assert not problems, problems
    assert not live_server.errors, live_server.errors
