"""Benchmark: Skolverket's full and delta pull of ``/persons`` on the ``--scale large`` register, all ready.

Imports the large register, makes one ready test group per class (its pupils, one teacher), publishes
everything, then starts the real server (gunicorn, one worker) with JWTs from the local fake nutid
server and measures over HTTP:

* full pull of /persons with limit=1000: entities/s, and the server worker's memory along the way;
* the floor it is compared with: reading the same stored documents from the database and writing them
  out, in one process, without HTTP, JSON framing or auth (entities/s) -- and the ratio;
* a delta pull (meta.modified.after) after one register change: median and worst of 20 calls.

    .venv/bin/python bench/ss12000_pull.py [--postgres]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.import_large import OUT  # noqa: E402
from bench.import_large import fresh_postgres  # noqa: E402
from bench.import_large import run  # noqa: E402
from tests.fakes.auth_server import API_LOCATION  # noqa: E402
from tests.fakes.auth_server import FakeAuthServer  # noqa: E402

TOKEN = re.compile(rb'"pageToken":"([^"]+)"\}$')
TAIL = 2048  # the page token is in the last few hundred bytes of a page


def make_everything_ready(url: str) -> tuple[int, float]:
    """One ready group per class at every unit (bulk rows), then publish all; (groups, seconds)."""
    from sqlalchemy import insert
    from sqlalchemy import select
    from sqlmodel import Session

    from dnp.db import make_engine
    from dnp.db import refresh_statistics
    from dnp.groups.catalog import ensure_catalog
    from dnp.groups.models import TestGroup
    from dnp.groups.models import TestGroupMember
    from dnp.groups.models import TestOccasion
    from dnp.publication.changes import rebuild
    from dnp.register.models import Duty
    from dnp.register.models import RegisterGroup
    from dnp.register.models import RegisterGroupMembership
    from dnp.register.models import skolverket_id

    engine = make_engine(url)
    with Session(engine) as session:
        ensure_catalog(session=session)
        occasions = {}
        for school_type, test in (("GR", "MA åk 9"), ("GY", "MATMAT01c")):
            occasion = TestOccasion(activity_id=skolverket_id(test), term="VT 2027")
            session.add(occasion)
            session.flush()
            occasions[school_type] = occasion.id
        teachers = {}
        for person_id, unit_id in session.execute(
            select(Duty.person_id, Duty.school_unit_id).where(Duty.duty_role == "Lärare")
        ):
            teachers.setdefault(unit_id, person_id)
        classes = session.execute(select(RegisterGroup).where(RegisterGroup.group_type == "Klass")).scalars()
        groups, members = [], []
        for klass in classes:
            group_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{klass.id}"))
            groups.append(
                {
                    "id": group_id,
                    "occasion_id": occasions["GY" if klass.school_type == "GY" else "GR"],
                    "school_unit_id": klass.school_unit_id,
                    "display_name": f"Prov {klass.display_name}",
                    "status": "ready",
                    "follows_register": False,
                    "created_by": "bench",
                    "ready_at": datetime.now(UTC),
                }
            )
            teacher = teachers.get(klass.school_unit_id)
            if teacher:
                members.append({"test_group_id": group_id, "person_id": teacher, "role": "staff"})
            pupils = session.execute(
                select(RegisterGroupMembership.person_id).where(RegisterGroupMembership.group_id == klass.id)
            ).scalars()
            members += [{"test_group_id": group_id, "person_id": p, "role": "pupil"} for p in pupils]
        session.execute(insert(TestGroup.__table__), groups)
        session.execute(insert(TestGroupMember.__table__), members)
        started = time.perf_counter()
        rebuild(session=session)
        session.commit()
        refresh_statistics(engine)  # as `dnp publish --rebuild` does
        return len(groups), time.perf_counter() - started


def raw_read_and_write(url: str) -> tuple[int, float]:
    """The floor: stream the stored Person documents from the database and write them to a file."""
    from sqlalchemy import text

    from dnp.db import make_engine

    engine = make_engine(url)
    count = 0
    started = time.perf_counter()
    with engine.connect() as connection, open(os.devnull, "w") as sink:
        result = connection.execution_options(stream_results=True, yield_per=1000).execute(
            text("SELECT document FROM published_entity WHERE resource = 'Person' ORDER BY id")
        )
        for (document,) in result:
            sink.write(document)
            count += 1
    return count, time.perf_counter() - started


def worker_rss(master: int) -> tuple[float, float]:
    """(current, peak) resident memory in MB of gunicorn's worker process."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    status = Path(f"/proc/{children[0]}/status").read_text()
    current = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    return current, peak


def full_pull(port: int, token: str, master: int) -> tuple[int, float, list[float]]:
    """Follow pageToken through /persons?limit=1000 over one kept-alive connection, as Skolverket's
    client does; (entities, seconds, worker RSS after each page). The standard library's client:
    it parses a megabyte page in well under a millisecond, so the figure is the server's."""
    headers = {"Authorization": f"Bearer {token}"}
    count, memory = 0, []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    query = "limit=1000"
    while True:
        connection.request("GET", f"/ss12000/persons?{query}", headers=headers)
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, body[:200]
        count += body.count(b'"eduPersonPrincipalNames"')
        memory.append(worker_rss(master)[0])
        match = TOKEN.search(body, len(body) - TAIL)
        if not match:
            break
        query = "pageToken=" + match.group(1).decode()
    seconds = time.perf_counter() - started
    connection.close()
    return count, seconds, memory


def kept_postgres() -> tuple[str, bool]:
    """The PostgreSQL database kept between runs, and whether it already holds the publication."""
    from sqlalchemy import create_engine
    from sqlalchemy import text

    from bench.import_large import POSTGRES_URL

    url = POSTGRES_URL.rsplit("/", 1)[0] + "/dnp_bench_pull"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        query = text("SELECT 1 FROM pg_database WHERE datname = 'dnp_bench_pull'")
        exists = connection.execute(query).first()
        if not exists:
            connection.execute(text('CREATE DATABASE "dnp_bench_pull"'))
    admin.dispose()
    if not exists:
        return url, False
    engine = create_engine(url)
    with engine.connect() as connection:
        built = connection.execute(text("SELECT count(*) FROM published_entity")).scalar() > 0
    engine.dispose()
    return url, built


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    """Set up, serve, pull, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument(
        "--keep", help="SQLite file (or, with --postgres, any word) to build once and reuse in later runs"
    )
    options = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / "large-seed1.json"
    # development: production would insist on SAML settings that play no part here
    env = {**os.environ, "DNP_SECRET_KEY": "bench", "DNP_ENV": "development"}
    if not data.exists():
        run(["demo-data", "--scale", "large", "--seed", "1", "--write-file", str(data)], env)
    with tempfile.TemporaryDirectory() as tmp, FakeAuthServer(Path(tmp) / "nutid") as nutid:
        path = Path(options.keep) if options.keep else Path(tmp) / "bench.sqlite3"
        if options.postgres:
            url, built = kept_postgres() if options.keep else (fresh_postgres(), False)
        else:
            url, built = f"sqlite:///{path.resolve()}", path.exists()
        env["DNP_DATABASE_URL"] = url
        os.environ["DNP_DATABASE_URL"] = url
        if not built:
            run(["migrate"], env)
            wall, _, _, _ = run(["import", str(data)], env)
            backend = "postgresql" if options.postgres else "sqlite"
            print(f"backend: {backend}; register imported in {wall:.0f} s")
            groups, seconds = make_everything_ready(url)
            print(f"{groups} ready groups; whole publication built in {seconds:.1f} s")

        port = free_port()
        env.update(
            DNP_SS12000_JWKS_URL=nutid.jwks_url,
            DNP_SS12000_ISSUER=nutid.issuer,
            DNP_SS12000_LOCATION=API_LOCATION,
            DNP_TLS_CA_BUNDLE=str(nutid.ca_bundle_path),
            DNP_SS12000_PAGE_MAX="10000",
        )
        server = subprocess.Popen(
            # As the Procfile runs it (threads keep connections alive), with one worker process.
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
            + ["--worker-class", "gthread", "--threads", "4", "app:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(base + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            token = nutid.issue(lifetime=7200)
            # Three rounds, alternating, and the median of each: the machine is shared and noisy.
            raw_runs, api_runs = [], []
            for _ in range(3):
                raw_count, raw_seconds = raw_read_and_write(url)
                count, seconds, memory = full_pull(port, token, server.pid)
                assert count == raw_count, (count, raw_count)
                raw_runs.append(raw_count / raw_seconds)
                api_runs.append(count / seconds)
            api_rate, raw_rate = statistics.median(api_runs), statistics.median(raw_runs)
            runs = ", ".join(f"{rate:,.0f}" for rate in raw_runs)
            print(f"raw read+write of {raw_count} stored documents: {raw_rate:,.0f} entities/s ({runs})")
            runs = ", ".join(f"{rate:,.0f}" for rate in api_runs)
            pages = f"{len(memory)} pages"
            print(f"full pull /persons limit=1000 over HTTP ({pages}): {api_rate:,.0f} entities/s ({runs})")
            print(f"ratio: {api_rate / raw_rate:.0%}")
            quarter = memory[len(memory) // 4]
            print(
                f"server worker RSS: after first page {memory[0]:.0f} MB, after a quarter {quarter:.0f} MB, "
                f"after the last page {memory[-1]:.0f} MB, peak {worker_rss(server.pid)[1]:.0f} MB"
            )
            delta = delta_pull(url, base, token)
            median, worst = statistics.median(delta), max(delta)
            print(f"delta pull after one change: median {median:.1f} ms, worst {worst:.1f} ms")
        finally:
            server.terminate()
            server.wait(timeout=30)


def delta_pull(url: str, base: str, token: str) -> list[float]:
    """Change one pupil in the register (published in the same transaction), then time 20 delta pulls."""
    from sqlalchemy import select
    from sqlmodel import Session

    from dnp.db import make_engine
    from dnp.publication.models import PublishedEntity
    from dnp.register.ingest import ingest_items

    since = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    engine = make_engine(url)
    with Session(engine) as session:
        text = session.execute(
            select(PublishedEntity.document)
            .where(PublishedEntity.resource == "Person", PublishedEntity.document.contains('"Ingen"'))
            .order_by(PublishedEntity.id)
            .limit(1)
        ).scalar_one()
        person = json.loads(text)
        person["givenName"] += "a"
        ingest_items("persons", [person], "bench", "upsert", session=session)
        session.commit()
    timings = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(20):
            started = time.perf_counter()
            body = (
                client.get("/ss12000/persons", params={"meta.modified.after": since})
                .raise_for_status()
                .json()
            )
            timings.append((time.perf_counter() - started) * 1000)
            assert len(body["data"]) == 1
    return timings


if __name__ == "__main__":
    main()
