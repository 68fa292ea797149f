"""API call records are written in batches by a background thread, and none are lost on the way."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import create_engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from dnp.ss12000.auth import Caller
from dnp.ss12000.call_log import CallLog
from dnp.ss12000.models import ApiCall
from tests.helpers import wait_for

CALLER = Caller("https://api.skolverket.se/klient", "SE2021004185", {})


def count(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(ApiCall.__table__)).scalar_one()


@pytest.fixture
def engine(app):
    return app.extensions["dnp.engine"]


def test_calls_are_written_in_the_background_and_the_writer_ends(engine):
    calls = CallLog(engine, interval=0.05)
    for page in range(30):
        calls.add(CALLER, "GET", "/persons", 200, page, 3)
    wait_for(lambda: count(engine) == 30, timeout=5, message="30 calls written")
    wait_for(lambda: calls._writer is None, timeout=5, message="the writer to stop")  # no idle thread stays
    calls.add(None, "GET", "/groups", 401, 0, 1)  # a new call starts a new writer
    wait_for(lambda: count(engine) == 31, timeout=5, message="the 31st call written")
    with engine.connect() as connection:
        rows = connection.execute(select(ApiCall.caller, ApiCall.count).order_by(ApiCall.id)).all()
    assert rows[0] == (CALLER.subject, 0) and rows[29] == (CALLER.subject, 29) and rows[30] == ("", 0)
    calls.close()


def test_flush_writes_at_once_and_close_writes_the_rest(engine):
    calls = CallLog(engine, interval=60)
    calls.add(CALLER, "GET", "/persons", 200, 1000, 9)
    assert calls.flush() == 1 and count(engine) == 1
    calls.add(CALLER, "GET", "/persons", 200, 7, 2)
    calls.close()
    assert count(engine) == 2
    assert calls._writer is None or not calls._writer.is_alive()


def test_a_database_outage_keeps_the_calls_until_it_is_back(app, tmp_path):
    broken = create_engine(f"sqlite:///{tmp_path}/missing-dir/none/db.sqlite3")
    calls = CallLog(broken, interval=60, max_pending=5)
    for page in range(8):
        calls.add(CALLER, "GET", "/persons", 200, page, 1)
    assert calls.flush() == 0  # logged, not raised into a request
    assert [row["count"] for row in calls._pending] == [0, 1, 2, 3, 4]  # bounded, oldest kept
    calls.engine = app.extensions["dnp.engine"]
    assert calls.flush() == 5 and count(calls.engine) == 5
    calls.close()


def test_old_calls_are_pruned(engine):
    calls = CallLog(engine, interval=60)
    calls.add(CALLER, "GET", "/persons", 200, 1, 1)
    calls.flush()
    with engine.begin() as connection:
        connection.execute(update(ApiCall.__table__).values(at=datetime(2020, 1, 1, tzinfo=UTC)))
    calls._pruned_at = float("-inf")
    calls.add(CALLER, "GET", "/groups", 200, 2, 1)
    calls.flush()
    with engine.connect() as connection:
        assert connection.execute(select(ApiCall.endpoint)).scalars().all() == ["/groups"]
    calls.close()
