"""Fixtures: a migrated database per test process (SQLite or PostgreSQL), real Redis, the app."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session
from sqlmodel import SQLModel

import dnp.tables  # noqa: F401  (registers every table on the metadata)
from dnp import create_app
from dnp.migrate import upgrade
from tests.helpers import INGEST_TOKEN
from tests.helpers import Clock
from tests.local_servers import claim_test_redis
from tests.local_servers import start_test_servers

BACKEND = os.environ.get("DNP_TEST_DATABASE", "sqlite")
# Fixtures every area may ask for by name: the fakes of the outside systems, the small register, the SS 12000
# client and the app as a SAML SP.
pytest_plugins = [
    "tests.fakes.fixtures",
    "tests.groups_fixtures",
    "tests.ss12000.client",
    "tests.auth.saml_fixtures",
]
_created_databases: list[str] = []  # this process's PostgreSQL databases, dropped when it ends


def pytest_configure(config):
    """In the controlling process only: make Redis (and PostgreSQL) answer, starting our own if needed.

    xdist workers start later and inherit the URLs through the environment, so a run starts one of each.
    """
    if not hasattr(config, "workerinput"):
        config.dnp_local_servers = start_test_servers(os.environ, postgres=BACKEND == "postgres")


def pytest_collection_modifyitems(config, items):
    """Leave PostgreSQL-only tests out of a SQLite run (deselected, as the e2e tests are, not skipped)."""
    if BACKEND == "postgres":
        return
    deselected = [item for item in items if item.get_closest_marker("postgres_only")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgres_only")]


def pytest_unconfigure(config):
    """Stop the servers this run started."""
    for server in getattr(config, "dnp_local_servers", []):
        server.close()


def pytest_sessionfinish(session):
    """Drop this process's PostgreSQL databases."""
    if _created_databases:
        admin = create_engine(os.environ["DNP_TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in _created_databases:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        _created_databases.clear()


def _worker_number(worker_id: str) -> int:
    return 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))


def fresh_database(tmp_path_factory, worker_id, suffix: str = "", revision: str = "head") -> str:
    """Create and migrate (to ``revision``) an empty database for this process; ``suffix`` names another."""
    if BACKEND == "postgres":
        # Named after the run (and the process in it), so that runs side by side never meet.
        name = f"dnp_test_{os.environ['DNP_TEST_RUN_ID']}_{_worker_number(worker_id)}{suffix}"
        admin_url = make_url(os.environ["DNP_TEST_POSTGRES_URL"])
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        _created_databases.append(name)
        url = admin_url.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / f'dnp{suffix}.sqlite3'}"
    upgrade(url, revision)
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id) -> str:
    """A freshly migrated database for this test process."""
    return fresh_database(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def redis_url(worker_id):
    """A Redis database of this test process's own (real server; see ``tests.local_servers``)."""
    url, holder = claim_test_redis(os.environ, _worker_number(worker_id), worker_id)
    yield url
    holder.close()


def _empty_tables(engine) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())
            # Planner statistics that an earlier test's ANALYZE left (the import commands run one) would
            # change the query plans, and with them the order of unordered rows, for every later test.
            if connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
                connection.exec_driver_sql("DELETE FROM sqlite_stat1")
    engine.dispose()  # SQLite reads the statistics when a connection opens: the next ones see none


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


@pytest.fixture
def redis(app):
    """The test's Redis database, empty before and after."""
    from redis import Redis

    connection = Redis.from_url(app.config["REDIS_URL"])
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def clock() -> Clock:
    """A clock the test moves by hand (``clock.advance(seconds)``), starting at the wall clock's now."""
    return Clock()
