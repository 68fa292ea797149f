"""Reading the publication page by page: filters, signed page tokens, keyset queries, meta splicing.

Pages are ordered by entity id and continue after the last id of the previous page (keyset), so
every entity that stays published is served exactly once however the data changes between pages.
The page token is an itsdangerous-signed blob of the original filters and that last id: the
client cannot forge or alter it, and it only works for the resource it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime

from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.engine import Connection

from dnp.models import DeletedEntity
from dnp.models import PublishedEntity

# URL segment → stored resource type.
RESOURCES = {
    "organisations": "Organisation",
    "persons": "Person",
    "groups": "Group",
    "duties": "Duty",
    "activities": "Activity",
}
# Resource type → keys in the deletedEntities body (the spec's misspelling too, for its readers).
DELETED_KEYS = {
    "Activity": ("activities", "activitites"),
    "Duty": ("duties",),
    "Group": ("groups",),
    "Person": ("persons",),
    "Organisation": ("organisations",),
}
LIST_FILTERS = ("meta.created.before", "meta.created.after", "meta.modified.before", "meta.modified.after")
DELETED_FILTERS = ("after", "entities")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PUBLISHED = PublishedEntity.__table__
DELETED = DeletedEntity.__table__


class BadQuery(ValueError):
    """The query cannot be answered: the message says why (sent as a 400)."""


def is_uuid(value: str) -> bool:
    """True for a UUID in its usual text form."""
    return bool(_UUID.match(value or ""))


def parse_time(name: str, value: str) -> datetime:
    """An RFC 3339 date-time with an offset (``Z`` or ``±hh:mm``), as aware UTC."""
    if not _RFC3339.match(value or ""):
        raise BadQuery(f"{name} must be an RFC 3339 date-time with offset, e.g. 2026-11-28T10:30:00+01:00")
    text = value.upper().replace("Z", "+00:00")
    head, _, rest = text.partition(".")
    if rest:  # Python takes at most microseconds
        digits = re.match(r"\d+", rest).group(0)
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise BadQuery(f"{name} is not a valid date-time") from None


def stamp(moment: datetime) -> str:
    """``meta`` time format: UTC to the microsecond as stored, ``2026-11-28T10:30:00.123456Z``.

    Full precision, so a client that sends a served time back as a filter gets exactly the
    inclusive comparison it asked for.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def with_meta(document: str, created: datetime, modified: datetime) -> str:
    """The stored JSON text with ``meta`` added, without parsing it."""
    return f'{document[:-1]},"meta":{{"created":"{stamp(created)}","modified":"{stamp(modified)}"}}}}'


@dataclass
class PageRequest:
    """One page: the resource, its filters (as sent), where the previous page ended, how many."""

    resource: str
    filters: dict = field(default_factory=dict)
    after: str | int | None = None
    limit: int = 1000


class PageTokens:
    """Signs and opens page tokens."""

    def __init__(self, secret: str):
        self.serializer = URLSafeSerializer(secret, salt="dnp-ss12000-page-token")

    def dump(self, page: PageRequest, last) -> str:
        """The token for the page after ``last``."""
        return self.serializer.dumps({"r": page.resource, "f": page.filters, "a": last, "l": page.limit})

    def load(self, token: str, resource: str) -> PageRequest:
        """The page a token asks for; BadQuery if it was altered or belongs to another resource."""
        try:
            data = self.serializer.loads(token)
        except BadSignature:
            raise BadQuery("pageToken is not valid") from None
        if not isinstance(data, dict) or data.get("r") != resource:
            raise BadQuery("pageToken belongs to another resource")
        return PageRequest(resource, data.get("f") or {}, data.get("a"), int(data.get("l") or 1))


def page_request(
    resource: str, args: Mapping, tokens: PageTokens, default: int, maximum: int, filters: tuple
) -> PageRequest:
    """Read limit, filters and pageToken from the query string (a token and a filter together → 400)."""
    given = {name: args.get(name) for name in filters if args.get(name) is not None}
    if "entities" in given:
        given["entities"] = (
            ",".join(args.getlist("entities")) if hasattr(args, "getlist") else given["entities"]
        )
    for name, value in given.items():
        if name == "entities":
            entity_types(value)
        else:
            parse_time(name, value)
    token = args.get("pageToken")
    if token is not None and given:
        raise BadQuery("pageToken cannot be combined with filters; the token carries them")
    page = tokens.load(token, resource) if token is not None else PageRequest(resource, given, None, default)
    if args.get("limit") is not None:
        text = args.get("limit")
        if not re.fullmatch(r"\d{1,9}", text) or int(text) < 1:
            raise BadQuery("limit must be a whole number of at least 1")
        page.limit = int(text)
    page.limit = max(1, min(page.limit, maximum))
    return page


def entity_rows(connection: Connection, page: PageRequest) -> Iterator[tuple]:
    """Up to ``limit + 1`` rows (id, document, created, modified) of the page, in id order."""
    query = select(PUBLISHED.c.id, PUBLISHED.c.document, PUBLISHED.c.created, PUBLISHED.c.modified).where(
        PUBLISHED.c.resource == page.resource
    )
    columns = {"created": PUBLISHED.c.created, "modified": PUBLISHED.c.modified}
    for name, value in page.filters.items():
        _, column, side = name.split(".")
        moment = parse_time(name, value)
        # Both bounds inclusive, as the specification says ("on or after", "on or before").
        query = query.where(columns[column] >= moment if side == "after" else columns[column] <= moment)
    if page.after is not None:
        query = query.where(PUBLISHED.c.id > str(page.after))
    query = query.order_by(PUBLISHED.c.id).limit(page.limit + 1)
    # A server-side cursor on PostgreSQL: memory stays flat however large the page; closing this
    # generator (the caller breaks off after ``limit`` rows) closes the cursor.
    with connection.execution_options(stream_results=True, yield_per=500).execute(query) as result:
        yield from result


def entity_types(value: str) -> list[str]:
    """The resource types of an ``entities`` filter (comma-separated); BadQuery for unknown ones."""
    wanted = [name.strip() for name in value.split(",") if name.strip()]
    if not wanted or any(name not in DELETED_KEYS for name in wanted):
        raise BadQuery(f"entities must be a comma-separated list of {', '.join(DELETED_KEYS)}")
    return wanted


def deleted_rows(connection: Connection, page: PageRequest) -> list[tuple]:
    """Up to ``limit + 1`` deletions (row id, resource, entity id) of the page, oldest first."""
    query = select(DELETED.c.id, DELETED.c.resource, DELETED.c.entity_id)
    if "after" in page.filters:
        query = query.where(DELETED.c.deleted_at >= parse_time("after", page.filters["after"]))
    if "entities" in page.filters:
        query = query.where(DELETED.c.resource.in_(entity_types(page.filters["entities"])))
    if page.after is not None:
        query = query.where(DELETED.c.id > int(page.after))
    return connection.execute(query.order_by(DELETED.c.id).limit(page.limit + 1)).all()


def deleted_body(rows: list[tuple]) -> dict:
    """``{"activities": [...], "activitites": [...], "persons": [...], ...}``, only non-empty keys."""
    data: dict[str, list[str]] = {}
    for _, resource, entity_id in rows:
        for key in DELETED_KEYS[resource]:
            data.setdefault(key, []).append(entity_id)
    return data
