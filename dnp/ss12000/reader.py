"""Reading the publication page by page with raw SQL: keyset parts joined in the database, streamed.

The query contract (filters, page tokens) is in ``query``; this module only reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Iterator
from functools import lru_cache

from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import TextClause

from dnp.publication.models import DeletedEntity
from dnp.ss12000.query import DELETED_KEYS
from dnp.ss12000.query import BadQuery
from dnp.ss12000.query import PageRequest
from dnp.ss12000.query import PageTokens
from dnp.ss12000.query import entity_types
from dnp.ss12000.query import parse_time
from dnp.types import UTCDateTime

DELETED = DeletedEntity.__table__


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


def read_connection(engine: Engine) -> Connection:
    """A connection for reading pages. Autocommit on PostgreSQL: the reads need no transaction, and
    BEGIN and ROLLBACK were two of a page's four round trips (SQLite begins none for a SELECT)."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


def stream_page(
    engine: Engine,
    page: PageRequest,
    tokens: PageTokens,
    *,
    plain_copy: bool,
    done: Callable[[bool, int], None],
) -> Iterator[bytes]:
    """The page's JSON body in parts, built from the stored documents without parsing them.

    ``plain_copy`` adds the spec's ``{"organisations": [...]}`` besides the code's ``data``. ``done``
    is called once with (finished, count) when the stream ends or is abandoned (the call log).
    """
    reader, finished, copies = None, False, []
    try:
        opening = b'{"data":['
        with read_connection(engine) as connection:
            reader = PageReader(connection, page)
            for part in reader.parts():
                yield opening + part  # the opening goes out with the first part: one write less
                opening = b","
                if plain_copy:
                    copies.append(part)
        tail = (b"" if reader.count else opening) + b"]"
        if plain_copy:
            tail += b',"organisations":[' + b",".join(copies) + b"]"
        if reader.more:
            tail += b',"pageToken":' + json.dumps(tokens.dump(page, reader.last)).encode()
        yield tail + b"}"
        finished = True
    finally:
        done(finished, reader.count if reader else 0)


def deleted_page(engine: Engine, page: PageRequest, tokens: PageTokens) -> tuple[dict, int]:
    """The ``/deletedEntities`` body of a page and how many deletions it holds."""
    with engine.connect() as connection:
        rows = deleted_rows(connection, page)
    body: dict = {"data": deleted_body(rows[: page.limit])}
    if len(rows) > page.limit:
        body["pageToken"] = tokens.dump(page, rows[page.limit - 1][0])
    return body, min(len(rows), page.limit)
