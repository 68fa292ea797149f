"""The provaktivitet catalog: Skolverket's open-data API, or our bundled demo list."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlmodel import Session
from sqlmodel import select

from dnp.common import codes
from dnp.common.wording import counted
from dnp.groups.models import TestActivity
from dnp.register.models import skolverket_id
from dnp.types import utcnow

log = logging.getLogger(__name__)
DEMO_CATALOG = Path(__file__).resolve().parent.parent / "demo" / "activities.json"


class CatalogError(Exception):
    """The open-data API could not be used; the message says why (Swedish)."""


def parse_activities(payload: object) -> list[dict]:
    """Keep the provaktiviteter DNP can use; ids are always uuid5(NIL, displayName)."""
    items = payload.get("data", payload.get("activities")) if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise CatalogError("Svaret från Skolverket var inte en lista med provaktiviteter.")
    activities: dict[str, dict] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        name, school_type = item.get("displayName"), item.get("schoolType")
        if not isinstance(name, str) or not name.strip() or school_type not in codes.DNP_SCHOOL_TYPES:
            continue
        year = item.get("schoolYear")
        activities.setdefault(
            skolverket_id(name),
            {
                "id": skolverket_id(name),
                "display_name": name.strip(),
                "school_type": school_type,
                "school_year": year if isinstance(year, int) and 0 <= year <= 10 else None,
                "comment": item.get("comment") if isinstance(item.get("comment"), str) else None,
            },
        )
    if not activities:
        raise CatalogError("Svaret från Skolverket innehöll inga användbara provaktiviteter.")
    return list(activities.values())


def fetch_activities(base_url: str, client: httpx.Client | None = None) -> list[dict]:
    """GET {base}/activities from Skolverket's open-data API."""
    url = base_url.rstrip("/") + "/activities"
    try:
        with client or httpx.Client(timeout=15, follow_redirects=False) as http:
            response = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise CatalogError(f"Skolverkets öppna API gick inte att nå ({type(exc).__name__}).") from exc
    if response.status_code != 200:
        raise CatalogError(f"Skolverkets öppna API svarade {response.status_code}.")
    try:
        return parse_activities(response.json())
    except ValueError as exc:
        raise CatalogError("Svaret från Skolverket var inte giltig JSON.") from exc


def demo_activities() -> list[dict]:
    """The bundled demo catalog (clearly ours, not Skolverket's)."""
    return parse_activities(json.loads(DEMO_CATALOG.read_text(encoding="utf-8")))


def store_activities(session: Session, activities: list[dict], source: str) -> int:
    """Upsert the catalog; activities no longer listed are kept (groups may use them)."""
    existing = {a.id: a for a in session.exec(select(TestActivity)).all()}
    now = utcnow()
    for data in activities:
        activity = existing.get(data["id"]) or TestActivity(id=data["id"])
        activity.display_name = data["display_name"]
        activity.school_type = data["school_type"]
        activity.school_year = data["school_year"]
        activity.comment = data["comment"]
        activity.source = source
        activity.fetched_at = now
        session.add(activity)
    return len(activities)


def refresh_catalog(
    session: Session, base_url: str, progress: Callable[[str], None] | None = None, client=None
) -> tuple[int, str, str | None]:
    """Fetch and store the catalog; fall back to the demo list. Returns (count, source, problem)."""
    if progress:
        progress("Hämtar provaktiviteter från Skolverket …")
    try:
        activities, source, problem = fetch_activities(base_url, client), "skolverket", None
    except CatalogError as error:
        log.warning("catalog: %s; using the demo catalog", error)
        activities, source, problem = demo_activities(), "demo", str(error)
    if progress:
        progress(f"Sparar {counted(len(activities), 'provaktivitet', 'provaktiviteter')} …")
    return store_activities(session, activities, source), source, problem


def ensure_catalog(session: Session) -> None:
    """Load the demo catalog if there is no catalog at all (fresh installs, demo data)."""
    if session.exec(select(TestActivity.id).limit(1)).first() is None:
        store_activities(session, demo_activities(), "demo")


def catalog_summary(*, session: Session) -> tuple[int, str | None]:
    """How many test activities the catalog holds, and where they came from (``demo`` or Skolverket)."""
    count, source = session.exec(select(func.count(), func.max(TestActivity.source))).one()
    return count, source
