"""What Skolverket's client reports (``/log``, ``/statistics``) and how often it fetches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select
from sqlmodel import Session

from dnp.common.sql import among
from dnp.publication.models import PublishedEntity
from dnp.ss12000.models import ApiCall
from dnp.ss12000.models import FeedbackLog
from dnp.ss12000.models import FeedbackStatistics
from dnp.ss12000.query import BadQuery
from dnp.ss12000.query import parse_time

SEVERITIES = ("Info", "Warning", "Error")
MAX_MESSAGE = 10_000


def _text(body: dict, name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadQuery(f"{name} must be a string")
    return value[:limit]


def _time(body: dict, *names: str) -> datetime | None:
    for name in names:
        value = body.get(name)
        if isinstance(value, str):
            try:
                return parse_time(name, value)
            except BadQuery:
                return None  # an odd timestamp must not cost us Skolverket's report
    return None


def store_log(body: object, caller: str, *, session: Session) -> FeedbackLog:
    """Store a LogEntry; only ``message`` and ``severityLevel`` are required."""
    if not isinstance(body, dict):
        raise BadQuery("the body must be a JSON object")
    message = body.get("message")
    if not isinstance(message, str):  # "" is a message too: the spec allows it, and a report is kept
        raise BadQuery("message is required (a string)")
    if body.get("severityLevel") not in SEVERITIES:
        raise BadQuery(f"severityLevel must be one of {', '.join(SEVERITIES)}")
    entry = FeedbackLog(
        caller=caller,
        severity_level=body["severityLevel"],
        message=message[:MAX_MESSAGE],
        message_type=_text(body, "messageType", 255),
        resource_type=_text(body, "resourceType", 60),
        resource_id=_text(body, "resourceId", 255),
        resource_url=_text(body, "resourceUrl", 2000),
        time_of_occurance=_time(body, "timeOfOccurance"),
    )
    session.add(entry)
    return entry


def store_statistics(body: object, caller: str, *, session: Session) -> FeedbackStatistics:
    """Store a StatisticsEntry; the three counts must be whole numbers of at least 0."""
    if not isinstance(body, dict):
        raise BadQuery("the body must be a JSON object")
    resource_type = body.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type or len(resource_type) > 60:
        raise BadQuery("resourceType is required")
    counts = {}
    for name in ("newCount", "updatedCount", "deletedCount"):
        value = body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**31:
            raise BadQuery(f"{name} must be a whole number of at least 0")
        counts[name] = value
    entry = FeedbackStatistics(
        caller=caller,
        resource_type=resource_type,
        new_count=counts["newCount"],
        updated_count=counts["updatedCount"],
        deleted_count=counts["deletedCount"],
        resource_url=_text(body, "resourceUrl", 2000),
        description=_text(body, "description", 2000),
        time_of_occurance=_time(body, "timeOfOccurance", "endDate"),
    )
    session.add(entry)
    return entry


@dataclass
class EndpointStatus:
    """The latest call to one endpoint."""

    endpoint: str
    last_at: datetime
    last_count: int
    calls: int


def fetch_status(*, session: Session) -> list[EndpointStatus]:
    """Per endpoint: when Skolverket last called it, how many entities it got, how many calls in all."""
    rows = session.execute(
        select(ApiCall.endpoint, func.max(ApiCall.id), func.count()).group_by(ApiCall.endpoint)
    ).all()
    latest = {
        row.id: row
        for row in session.execute(select(ApiCall).where(ApiCall.id.in_([r[1] for r in rows]))).scalars()
    }
    status = [
        EndpointStatus(endpoint, latest[last].at, latest[last].count, calls) for endpoint, last, calls in rows
    ]
    return sorted(status, key=lambda item: item.endpoint)


def last_fetch(endpoint: str, *, session: Session) -> datetime | None:
    """When ``GET endpoint`` last succeeded (e.g. ``/groups``)."""
    return session.execute(
        select(func.max(ApiCall.at)).where(ApiCall.endpoint == endpoint, ApiCall.status == 200)
    ).scalar()


def log_entries(
    resource_ids: list[str] | None = None, limit: int = 50, *, session: Session
) -> list[FeedbackLog]:
    """The latest log entries, or those naming any of ``resource_ids``."""
    query = select(FeedbackLog).order_by(FeedbackLog.id.desc()).limit(limit)
    if resource_ids is not None:
        # One array parameter on PostgreSQL: a whole year of ids, one parameter each, costs more than the SQL.
        query = query.where(among(FeedbackLog.resource_id, resource_ids, session=session))
    return list(session.execute(query).scalars())


def statistics_entries(limit: int = 20, *, session: Session) -> list[FeedbackStatistics]:
    """The latest statistics entries."""
    return list(
        session.execute(
            select(FeedbackStatistics).order_by(FeedbackStatistics.id.desc()).limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class PublicationStatus:
    """What Skolverket has of one test group: when it was last published, and Skolverket's fetch since."""

    published: datetime | None = None
    fetched: datetime | None = None


def publication_status(group_ids: Iterable[str], *, session: Session) -> dict[str, PublicationStatus]:
    """By test group id: when each was last (re)published, and when Skolverket last fetched after that."""
    ids = list(group_ids)
    if not ids:
        return {}
    published = dict(
        session.execute(
            select(PublishedEntity.id, PublishedEntity.modified).where(
                PublishedEntity.resource == "Group", PublishedEntity.id.in_(ids)
            )
        ).all()
    )
    # Only a published group can have been fetched since: with none, Skolverket's fetches need not be read.
    fetched = last_fetch("/groups", session=session) if published else None
    status = {}
    for group_id in ids:
        modified = published.get(group_id)
        # A fetch before the last change did not get that change: it does not count as fetched.
        seen = fetched if modified and fetched and fetched >= modified else None
        status[group_id] = PublicationStatus(modified, seen)
    return status


def feedback_for_group(group, members: list, *, session: Session) -> list[tuple[FeedbackLog, str]]:
    """Log entries naming the group, its Activity or one of its members, with what they name."""
    names = {group.id: "Provgruppen", group.activity_id: "Provgruppens aktivitet"}
    names.update({member.person_id: member.label for member in members})
    return [
        (entry, names[entry.resource_id]) for entry in log_entries(list(names), limit=20, session=session)
    ]
