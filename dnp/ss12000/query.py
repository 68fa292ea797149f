"""The SS 12000 API's query contract: resources, filters, limits and signed page tokens.

Pages are ordered by entity id and continue after the last id of the previous page (keyset), so
every entity that stays published is served exactly once however the data changes between pages.
The page token is an itsdangerous-signed blob of the original filters and that last id: the
client cannot forge or alter it, and it only works for the resource it came from. ``reader`` runs
the queries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime

from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer

from dnp.common import identifiers
from dnp.publication.models import DeletedEntity
from dnp.publication.models import PublishedEntity

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


def entity_types(value: str) -> list[str]:
    """The resource types of an ``entities`` filter (comma-separated); BadQuery for unknown ones."""
    wanted = [name.strip() for name in value.split(",") if name.strip()]
    if not wanted or any(name not in DELETED_KEYS for name in wanted):
        raise BadQuery(f"entities must be a comma-separated list of {', '.join(DELETED_KEYS)}")
    return wanted
