"""The provaktivitet catalog from a local server speaking the open-data API, and its fallback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
from sqlmodel import select

from dnp.groups.catalog import CatalogError
from dnp.groups.catalog import parse_activities
from dnp.groups.catalog import refresh_catalog
from dnp.groups.models import TestActivity
from dnp.register.models import skolverket_id


class OpenData(BaseHTTPRequestHandler):
    """GET /v1/activities answers whatever the test put in ``body`` and ``status``."""

    body = b"[]"
    status = 200
    seen: list[str] = []

    def do_GET(self):  # noqa: N802
        OpenData.seen.append(self.path)
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def open_data():
    server = ThreadingHTTPServer(("127.0.0.1", 0), OpenData)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    OpenData.seen = []
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


CATALOG = [
    {"id": "ignored", "displayName": "MATMAT01a", "activityType": "Provaktivitet", "schoolType": "GY"},
    {"displayName": "MA åk 9", "activityType": "Provaktivitet", "schoolType": "GR", "schoolYear": 9},
    {"displayName": "Förskoleprov", "activityType": "Provaktivitet", "schoolType": "FS"},
    {"displayName": "", "schoolType": "GR"},
    "garbage",
]


def test_refresh_from_skolverket(db, open_data):
    OpenData.body, OpenData.status = json.dumps(CATALOG).encode(), 200
    count, source, problem = refresh_catalog(open_data, session=db)
    db.commit()
    assert (count, source, problem) == (2, "skolverket", None)
    assert OpenData.seen == ["/v1/activities"]
    stored = {a.display_name: a for a in db.exec(select(TestActivity)).all()}
    assert stored["MATMAT01a"].id == skolverket_id("MATMAT01a")  # always uuid5 of the name
    assert stored["MA åk 9"].school_year == 9


@pytest.mark.parametrize(
    ("status", "body", "reason"), [(500, b"{}", "500"), (200, b"not json", "JSON"), (200, b"{}", "lista")]
)
def test_bad_answers_fall_back_to_the_demo_catalog(db, open_data, status, body, reason):
    OpenData.body, OpenData.status = body, status
    count, source, problem = refresh_catalog(open_data, session=db)
    assert source == "demo" and count > 20
    assert reason in problem


def test_unreachable_falls_back(db):
    count, source, problem = refresh_catalog("http://127.0.0.1:1/v1", session=db)
    assert source == "demo" and "gick inte att nå" in problem
    assert db.exec(select(TestActivity)).first().source == "demo"


def test_parse_refuses_empty():
    with pytest.raises(CatalogError):
        parse_activities([{"displayName": "X", "schoolType": "FS"}])


def test_cli_refresh(app, runner, open_data):
    OpenData.body, OpenData.status = json.dumps(CATALOG).encode(), 200
    app.config["OPEN_DATA_URL"] = open_data
    result = runner.invoke(args=["dnp", "catalog", "refresh"])
    assert result.exit_code == 0 and "2 provaktiviteter (Skolverket)" in result.output
    app.config["OPEN_DATA_URL"] = "http://127.0.0.1:1/v1"
    result = runner.invoke(args=["dnp", "catalog", "refresh"])
    assert "demokatalog" in result.output
