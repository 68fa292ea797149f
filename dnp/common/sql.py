"""SQL helpers for bulk work that every area uses: id lists as one parameter, and fast bulk inserts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from operator import itemgetter

from sqlalchemy import ARRAY
from sqlalchemy import JSON
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import any_
from sqlalchemy import bindparam
from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import CompileError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import NullType
from sqlmodel import Session

# SQLite's page cache during a bulk write (KiB): the default 2 MB made an import of 100,000 persons read
# and write its index pages again and again through the kernel (5 s of system time; 1 s with this).
BULK_CACHE_KIB = 32 * 1024
# Below this many rows SQLAlchemy's INSERT costs as little (and a COPY would take two round trips).
DIRECT_FROM = 50


def is_postgres(*, session: Session) -> bool:
    """True when the session's database is PostgreSQL."""
    return session.connection().dialect.name == "postgresql"


def among(column, values: Iterable, *, session: Session):
    """``column IN values``; on PostgreSQL one array parameter (``= ANY``) instead of one per value.

    A list of a few hundred ids as separate parameters makes a new statement text for every length,
    which SQLAlchemy renders and psycopg parses anew each time: more CPU than running the query.
    """
    values = list(values)
    if is_postgres(session=session):
        # An expression of no known type (lower(eppn)) compares as text.
        item_type = String() if isinstance(column.type, NullType) else column.type
        return column == any_(bindparam(None, values, type_=ARRAY(item_type)))
    return column.in_(values)


@contextmanager
def bulk_cache(*, session: Session) -> Iterator[None]:
    """A larger SQLite page cache on the session's connection for one bulk write, restored after."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{int(BULK_CACHE_KIB)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous)}")


def insert_rows(table: Table, rows: Sequence[dict], *, session: Session) -> None:
    """Insert many rows (dicts with the same keys) in the session's transaction, fast.

    SQLAlchemy's INSERT for many rows spends about 20 µs of Python per row on SQLite building its
    parameters, and psycopg's pipeline another 40 µs per row on PostgreSQL; a large import writes
    hundreds of thousands of rows. So the rows go straight to the driver: one COPY on PostgreSQL, one
    ``executemany`` on SQLite, with column defaults and type conversions (JSON, UTC timestamps)
    applied as SQLAlchemy's INSERT applies them, and errors raised as SQLAlchemy's (a unique key
    taken meanwhile is still an ``IntegrityError``). A few rows take the ordinary INSERT.
    """
    if not rows:
        return
    if unknown := set(rows[0]) - set(table.c.keys()):
        # SQLAlchemy's INSERT for many rows would drop them silently: a misspelt key must not vanish.
        raise CompileError(f"{table.name} has no column(s) {sorted(unknown)}")
    connection = session.connection()
    if len(rows) < DIRECT_FROM:
        connection.execute(insert(table), list(rows))
        return
    columns, values = _driver_values(connection, table, rows)
    dialect = connection.dialect
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.quote(column.name) for column in columns)
    driver_connection = connection.connection.driver_connection
    if dialect.name == "postgresql":
        import psycopg  # only PostgreSQL gets here

        statement = f"COPY {preparer.format_table(table)} ({names}) FROM STDIN"
        try:
            cursor = driver_connection.cursor()
            with cursor, cursor.copy(statement) as copy:
                for row in values:
                    copy.write_row(row)
        except psycopg.Error as error:
            raise DBAPIError.instance(statement, None, error, psycopg.Error) from error
        return
    import sqlite3

    compiled = insert(table).compile(dialect=dialect, column_keys=[column.name for column in columns])
    statement = compiled.string
    # The compiled INSERT lists the columns in the table's order, as _driver_values does.
    assert list(compiled.positiontup) == [column.name for column in columns], compiled.positiontup
    try:
        driver_connection.cursor().executemany(statement, values)
    except sqlite3.Error as error:
        raise DBAPIError.instance(statement, None, error, sqlite3.Error) from error


def _processor(column, dialect):
    """How a value of ``column`` goes to the driver, as SQLAlchemy's INSERT would send it."""
    process = column.type._cached_bind_processor(dialect)
    if not isinstance(column.type.dialect_impl(dialect), JSON):
        return process
    if dialect.name == "postgresql":
        # For a COPY the JSON goes as text, which the server parses (psycopg's adapter costs ~8 µs a value).
        process = dialect._json_serializer or json.dumps
    # An audit row's empty before/after is JSON null: serialised once, not once a row.
    null = process(None)
    return lambda value: null if value is None else process(value)


def _driver_values(connection: Connection, table: Table, rows: Sequence[dict]) -> tuple[list, Iterable[list]]:
    """The columns to write and, lazily, each row's values as the driver takes them."""
    dialect = connection.dialect
    names = list(rows[0])
    defaults = {}
    for column in table.columns:
        default = column.default
        if column.name in names or default is None or not (default.is_scalar or default.is_callable):
            continue
        # A callable default (e.g. utcnow) is evaluated once for all the rows, as for one statement.
        defaults[column.name] = default.arg(None) if default.is_callable else default.arg
    # In the table's order, which is also the order of a compiled INSERT's parameters.
    columns = [column for column in table.columns if column.name in names or column.name in defaults]
    # Only the columns whose type converts values (JSON, UTC timestamps) cost a call per row; None is
    # converted too, as an INSERT does (a JSON column stores it as JSON null).
    converted = [
        (position, process)
        for position, column in enumerate(columns)
        if (process := _processor(column, dialect)) is not None
    ]
    keys = [column.name for column in columns]
    pick = itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],)

    def values():
        for row in rows:
            found = list(pick({**defaults, **row} if defaults else row))
            for position, process in converted:
                found[position] = process(found[position])
            yield found

    return columns, values()
