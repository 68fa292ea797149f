"""Database engine per app and one session per request (flaskr's ``get_db`` pattern)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask import current_app
from flask import g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session
from sqlmodel import create_engine


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a parent folder."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not url.startswith("sqlite://:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def refresh_statistics(engine: Engine) -> None:
    """Let the query planner see the data as it is now (after a bulk import or a rebuild).

    Without fresh statistics PostgreSQL plans the SS 12000 pages and delta filters for the table it
    last looked at, e.g. an empty one, and sorts the whole table for a page of a thousand.
    Autovacuum would get there eventually; a bulk change should not have to wait for it.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
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
