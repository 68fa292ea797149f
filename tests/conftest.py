"""Fixtures: a migrated database per test process (SQLite or PostgreSQL), real Redis, the app."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlmodel import Session
from sqlmodel import SQLModel

import dnp.models  # noqa: F401
from dnp import create_app
from dnp.migrate import upgrade

BACKEND = os.environ.get("DNP_TEST_DATABASE", "sqlite")
POSTGRES_URL = os.environ.get("DNP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
INGEST_TOKEN = "test-ingest-token-0123456789"
pytest_plugins = ["tests.groups_fixtures"]


def _worker_number(worker_id: str) -> int:
    return 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))


def fresh_database(tmp_path_factory, worker_id, suffix: str = "", revision: str = "head") -> str:
    """Create and migrate (to ``revision``) an empty database for this process; ``suffix`` names another."""
    if BACKEND == "postgres":
        # Named after the checkout too, so that two checkouts can test side by side.
        checkout = hashlib.sha256(str(Path(__file__).resolve()).encode()).hexdigest()[:6]
        name = f"dnp_test_{checkout}_{_worker_number(worker_id)}{suffix}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / f'dnp{suffix}.sqlite3'}"
    upgrade(url, revision)
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id) -> str:
    """A freshly migrated database for this test process."""
    return fresh_database(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def redis_url(worker_id) -> str:
    """A Redis database of its own for this test process (real server)."""
    base = int(os.environ.get("DNP_TEST_REDIS_DB_BASE", "8"))
    return f"redis://127.0.0.1:6379/{base + _worker_number(worker_id)}"


def _empty_tables(engine) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def app(database_url, redis_url):
    """The application with a clean database."""
    app = create_app(
        {
            "ENV": "testing",
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "INGEST_TOKEN": f"sis:{INGEST_TOKEN}",
            "INGEST_MAX_BYTES": 256 * 1024,
        }
    )
    engine = app.extensions["dnp.engine"]
    _empty_tables(engine)
    yield app
    if call_log := app.extensions.get("dnp.call_log"):
        call_log.close()  # nothing may be written into the next test's tables
    engine.dispose()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def db(app):
    """A session for arranging and asserting (outside any request)."""
    with Session(app.extensions["dnp.engine"], expire_on_commit=False) as session:
        yield session


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


def new_id() -> str:
    """A random UUID string."""
    return str(uuid.uuid4())


def login(client, app, eppn: str) -> str:
    """Sign ``client`` in as ``eppn`` (a real server-side session, no IdP); return the session id."""
    from dnp.services.access import start_session

    with Session(app.extensions["dnp.engine"]) as session:
        session_id = start_session(session, eppn, "test")
        session.commit()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = session_id
        cookie["_fresh"] = True
    return session_id


def csrf_token(client) -> str:
    """The CSRF token of ``client``'s session, as the pages embed it for HTMX."""
    import re

    body = client.get("/csrf-probe-404").get_data(as_text=True)  # every page embeds it
    return re.search(r'"X-CSRFToken": "([^"]+)"', body).group(1)


def grant(app, eppn: str, role: str, unit_ids=()) -> None:
    """Give ``eppn`` a role directly in the database."""
    from dnp.services.access import grant_role

    with Session(app.extensions["dnp.engine"]) as session:
        grant_role(session, "test", eppn, role, list(unit_ids))
        session.commit()
