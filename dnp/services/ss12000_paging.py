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
from functools import lru_cache

from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import TextClause

from dnp.common import identifiers
from dnp.publication.models import DeletedEntity
from dnp.publication.models import PublishedEntity
from dnp.types import UTCDateTime

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
# Whole-value ASCII patterns (``$`` accepts a trailing newline, ``\d`` non-ASCII digits).
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
# A day's margin at either end, so that the instant can be shown in any time zone.
EARLIEST_TIME = datetime(1, 1, 2, tzinfo=UTC)
LATEST_TIME = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
PUBLISHED = PublishedEntity.__table__
DELETED = DeletedEntity.__table__


class BadQuery(ValueError):
    """The query cannot be answered: the message says why (sent as a 400)."""


def is_uuid(value: str) -> bool:
    """True for a UUID in its usual text form."""
    return identifiers.is_uuid(value)


def parse_time(name: str, value: str) -> datetime:
    """An RFC 3339 date-time with an offset (``Z`` or ``±hh:mm``), as aware UTC.

    The one parser of client-sent times (filters, ``deletedEntities?after=``, ``/log`` and
    ``/statistics``). Instants within a day of year 1 or year 9999 are refused: they are valid RFC 3339,
    but in UTC or in Swedish time they fall outside what a datetime can hold.
    """
    if not _RFC3339.fullmatch(value or ""):
        raise BadQuery(f"{name} must be an RFC 3339 date-time with offset, e.g. 2026-11-28T10:30:00+01:00")
    text = value.upper().replace("Z", "+00:00")
    head, _, rest = text.partition(".")
    if rest:  # Python takes at most microseconds
        digits = re.match(r"[0-9]+", rest).group(0)
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
    try:
        instant = datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise BadQuery(f"{name} is not a valid date-time") from None
    except OverflowError:
        instant = None
    if instant is None or not EARLIEST_TIME <= instant <= LATEST_TIME:
        raise BadQuery(f"{name} must lie between {EARLIEST_TIME.date()} and {LATEST_TIME.date()}")
    return instant


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
        page.limit = _limit(args.get("limit"), maximum)
    page.limit = max(1, min(page.limit, maximum))
    return page


def _limit(text: str, maximum: int) -> int:
    """``limit`` as sent: any whole number of at least 1 (the spec sets no maximum); ours caps it."""
    if not re.fullmatch("[0-9]+", text):
        raise BadQuery("limit must be a whole number of at least 1")
    digits = text.lstrip("0")
    if not digits:
        raise BadQuery("limit must be a whole number of at least 1")
    # Compared as text first: a number of thousands of digits is not worth converting.
    return maximum if len(digits) > len(str(maximum)) else min(int(digits), maximum)


class PageReader:
    """Reads one page of stored documents as JSON text, in parts of at most ``part`` entities.

    Each part is one keyset query whose documents the database joins into one string of UTF-8
    bytes, so Python handles a few strings per page rather than a thousand rows, and
    memory stays flat however large the page. Entities that change between the parts are served
    exactly as they are between pages: each one that stays published exactly once. Within a part the
    documents come in id order (the ordered subquery feeds the aggregate); across parts and pages
    the keyset on id decides, so no entity is skipped or repeated whatever the order inside a part.
    The statements are plain SQL kept per shape: building them anew with the expression language
    cost more per page than reading the page.
    """

    def __init__(self, connection: Connection, page: PageRequest, part: int = 1000):
        self.connection = connection
        self.page = page
        self.part = part
        self.count = 0
        self.last: str | None = None
        self.more = False
        self._params: dict = {"resource": page.resource}
        self._where = ["resource = :resource"]
        for name, value in sorted(page.filters.items()):
            if name not in _FILTER_SQL:
                raise BadQuery(f"unknown filter {name}")
            condition, key = _FILTER_SQL[name]
            self._params[key] = parse_time(name, value)
            self._where.append(condition)

    def parts(self) -> Iterator[bytes]:
        """The page's documents, comma-joined UTF-8 per part; afterwards ``count``, ``last``, ``more``."""
        after, wanted = self.page.after, self.page.limit
        dialect = self.connection.dialect.name
        while wanted > 0:
            size = min(self.part, wanted)
            query = _statement(dialect, tuple(self._where), after is not None, size)
            params = self._params if after is None else {**self._params, "after": str(after)}
            body, last, found = self._fetch(query, params)
            if found:
                self.count, self.last, after = self.count + found, last, last
                yield body
            if found < size:
                return
            wanted -= size
        # A full page says there may be more, as in Skolverket's reference server: when nothing follows,
        # the next call answers {"data": []} without a token. Cheaper than asking on every page.
        self.more = True

    def _fetch(self, query: TextClause, params: dict) -> tuple:
        if self.connection.dialect.name != "postgresql":
            return self.connection.execute(query, params).one()
        # bytea in psycopg's binary format: the page's UTF-8 arrives as stored, with no hex text to
        # decode and no str to encode again (about a millisecond of a page's dozen). The values are
        # already what the driver binds (UTC-aware datetimes, strings).
        sql = _driver_sql(query, self.connection.dialect)
        with self.connection.connection.driver_connection.cursor(binary=True) as cursor:
            return cursor.execute(sql, params).fetchone()


@lru_cache(maxsize=256)
def _driver_sql(query: TextClause, dialect) -> str:
    """The statement as the driver takes it (``%(name)s`` placeholders on psycopg)."""
    return str(query.compile(dialect=dialect))


@lru_cache(maxsize=256)
def _statement(dialect: str, where: tuple[str, ...], after: bool, size: int) -> TextClause:
    """The SQL of a page part: its documents joined, its last id, how many."""
    # Every fragment is a constant of this module (the filters are looked up in _FILTER_SQL); the
    # values travel as bound parameters.
    conditions = " AND ".join(where + (("id > :after",) if after else ()))
    times = [key for _, key in _FILTER_SQL.values() if f":{key}" in conditions]
    # The stored UTF-8 as it is, so nothing is decoded and encoded again.
    joined = "convert_to(string_agg(document, ','), 'UTF8')"
    if dialect == "sqlite":
        joined = "CAST(group_concat(document, ',') AS BLOB)"
    sql = (
        f"SELECT {joined}, max(id), count(*) FROM (SELECT id, document FROM published_entity"  # noqa: S608
        f" WHERE {conditions} ORDER BY id LIMIT {int(size)}) AS part"
    )
    return text(sql).bindparams(*(bindparam(key, type_=UTCDateTime()) for key in times))


# Filter → SQL condition and parameter name. Both bounds are inclusive, as the specification says
# ("on or after", "on or before").
_FILTER_SQL = {
    "meta.created.after": ("created >= :created_after", "created_after"),
    "meta.created.before": ("created <= :created_before", "created_before"),
    "meta.modified.after": ("modified >= :modified_after", "modified_after"),
    "meta.modified.before": ("modified <= :modified_before", "modified_before"),
}


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
