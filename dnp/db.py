"""Database engine per app and one session per request (flaskr's ``get_db`` pattern)."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask import current_app
from flask import g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session
from sqlmodel import create_engine

# A data exception's message quotes the offending value (``invalid input syntax for type …: "…"``).
_VALUE_QUOTING_SQLSTATE_CLASS = "22"
_ROW_HIDDEN = "Row [hidden: rows may hold personal data]"


def make_engine(url: str) -> Engine:
    """Create an engine that never puts row values in logs or errors; SQLite gets foreign keys and WAL.

    Every engine of the app (web, worker, CLI, migrations) comes from here: register rows hold real
    names and civic numbers of protected persons (DESIGN rule 7), and a database error or a debug log
    must not carry them.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not url.startswith("sqlite://:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, hide_parameters=True, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    else:
        engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    event.listen(engine, "handle_error", _redact_database_error)
    logging.getLogger("sqlalchemy.engine.Engine").addFilter(_hide_rows)
    return engine


def _redact_database_error(context) -> None:
    """Keep only the server's one-line message: PostgreSQL's DETAIL repeats the row or the key values.

    ``Failing row contains (…)`` on a constraint violation, ``Key (eppn)=(…)`` on a duplicate. The
    exception is changed in place (its type, SQLSTATE and ``diag`` stay for callers that inspect them),
    so whatever prints it later (Flask's 500 log, RQ's failed-job record) sees no values.
    """
    original = context.original_exception
    message = str(original.args[0]) if original.args else ""
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    sqlstate = getattr(original, "sqlstate", None) or ""
    if sqlstate.startswith(_VALUE_QUOTING_SQLSTATE_CLASS):
        first_line = f"data exception (SQLSTATE {sqlstate}); value hidden"
    if message == first_line:
        return
    original.args = (first_line,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None and wrapped.args:
        wrapped.args = (f"({type(original).__module__}.{type(original).__name__}) {first_line}",)


def _hide_rows(record: logging.LogRecord) -> bool:
    """SQLAlchemy logs every fetched row at DEBUG whatever ``hide_parameters`` says: drop the values."""
    if record.msg == "Row %r":
        record.msg, record.args = _ROW_HIDDEN, ()
    return True


SQLITE_ANALYSIS_LIMIT = 1000  # rows per index that SQLite's ANALYZE reads (its manual suggests hundreds)


def refresh_statistics(engine: Engine) -> None:
    """Let the query planner see the data as it is now (after a bulk import or a rebuild).

    Without fresh statistics PostgreSQL plans the SS 12000 pages and delta filters for the table it
    last looked at, e.g. an empty one, and sorts the whole table for a page of a thousand.
    Autovacuum would get there eventually; a bulk change should not have to wait for it.
    SQLite samples as PostgreSQL does (its full ANALYZE read every index: a second per 100,000 persons).
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
        connection.exec_driver_sql("ANALYZE")


def get_engine() -> Engine:
    """Return the current app's engine."""
    return current_app.extensions["dnp.engine"]


def get_session() -> Session:
    """Return the request's session, creating it on first use."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    """Close the request's session; anything uncommitted is rolled back."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Bind an engine to the app and close sessions at teardown."""
    app.extensions["dnp.engine"] = make_engine(app.config["DATABASE_URL"])
    app.teardown_appcontext(close_session)
