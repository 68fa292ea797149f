"""Benchmark: a full push of the ``--scale large`` register (≈120k persons ready) to the fake Provisioning
API.

Everything real on loopback: the register imported from the large file, one ready test group per class
(its pupils and one teacher) until ``--persons`` pupils are in (default: every class), the publication
rebuilt, PostgreSQL (or ``--sqlite``), a private redis-server, ``--workers`` forking RQ workers
(``python -m dnp.worker dnp-push``, as in production), the clock process (``dnp sweeper``), the fake
nutid auth server and the fake Provisioning API with Skolverket's limits: 5 write/status calls per
second, 200,000-byte bodies, a job Pending for ``--delay`` seconds. Production timing otherwise: the
5 s coalescing window, polls 2 s after a call.

Prints, each beside its goal:

* wall time of the full push (switch to push → everything answered) against the floor the rate limit
  allows. Skolverket's 5/s counts status calls too (isCompleted and the job's result), so the floor is
  3 calls per 200 KB of bodies ÷ 5 calls/s plus the order's waits (Person → Group → Activity: two
  job delays); the issue's writes-only figure (bytes ÷ 200 KB ÷ 5/s) is printed beside it;
* change → first bulk call: p50/p95 over ``--samples`` single-pupil changes, against the window + 2 s;
* memory (RSS) of the worker processes and the clock process at start, middle and end, and the
  largest work horse seen.

    .venv/bin/python bench/push.py [--persons 5000] [--workers 3] [--sqlite]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.import_large import OUT  # noqa: E402
from bench.import_large import POSTGRES_URL  # noqa: E402
from bench.import_large import run  # noqa: E402
from tests.delivery.harness import PrivateRedis  # noqa: E402
from tests.delivery.harness import WorkerProcess  # noqa: E402
from tests.fakes.auth_server import FakeAuthServer  # noqa: E402
from tests.fakes.provisioning import FakeProvisioningApi  # noqa: E402

WRITE = ("/bulk", "/bulk/delete")


def fresh_postgres(name: str = "dnp_bench_push") -> str:
    """An empty PostgreSQL database of this benchmark's own."""
    from sqlalchemy import create_engine
    from sqlalchemy import text

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def make_ready(url: str, persons: int) -> tuple[int, int]:
    """One ready group per class (its pupils, one teacher) until ``persons`` pupils (0: all); publish.

    Returns (groups, pupils). Bulk rows, as ``bench/ss12000_pull.py`` does: the group services' checks
    are not what is measured here.
    """
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
        teachers: dict[str, str] = {}
        for person_id, unit_id in session.execute(
            select(Duty.person_id, Duty.school_unit_id).where(Duty.duty_role == "Lärare")
        ):
            teachers.setdefault(unit_id, person_id)
        classes = session.execute(
            select(RegisterGroup).where(RegisterGroup.group_type == "Klass").order_by(RegisterGroup.id)
        ).scalars()
        groups, members, pupils = [], [], 0
        for klass in classes:
            if persons and pupils >= persons:
                break
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
            if teacher := teachers.get(klass.school_unit_id):
                members.append({"test_group_id": group_id, "person_id": teacher, "role": "staff"})
            ids = session.execute(
                select(RegisterGroupMembership.person_id).where(RegisterGroupMembership.group_id == klass.id)
            ).scalars()
            chosen = [{"test_group_id": group_id, "person_id": p, "role": "pupil"} for p in ids]
            members += chosen
            pupils += len(chosen)
        session.execute(insert(TestGroup.__table__), groups)
        session.execute(insert(TestGroupMember.__table__), members)
        rebuild(session=session)
        session.commit()
    refresh_statistics(engine)
    engine.dispose()
    return len(groups), pupils


def forget_pushing(url: str) -> None:
    """Back to pull with no push state (for ``--reuse``): the next switch is a first full push again."""
    from sqlalchemy import delete
    from sqlalchemy import text

    from dnp.db import make_engine
    from dnp.delivery.push.models import PushAnswer
    from dnp.delivery.push.models import PushBatch
    from dnp.delivery.push.models import PushCursor
    from dnp.delivery.push.models import PushObject

    engine = make_engine(url)
    with engine.begin() as connection:
        for table in (PushAnswer, PushObject, PushBatch, PushCursor):
            connection.execute(delete(table))
        connection.execute(text("DELETE FROM central_setting WHERE key = 'transfer_method'"))
    engine.dispose()


def rss_mb(pid: int | None) -> float:
    """Resident memory of a process (MB), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class HorseWatch(threading.Thread):
    """Samples the work horses (children of the workers) every 0.2 s: the largest RSS seen."""

    def __init__(self, parents: list[int]):
        super().__init__(daemon=True)
        self.parents, self.largest, self.stopped = parents, 0.0, threading.Event()

    def run(self) -> None:
        """Sample until stopped."""
        while not self.stopped.wait(0.2):
            for parent in self.parents:
                out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout
                for child in out.split():
                    self.largest = max(self.largest, rss_mb(int(child)))


def main() -> None:
    """Import, make ready, push everything, measure, print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=0, help="pupils to make ready (0: every class)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds a fake job stays Pending")
    parser.add_argument("--coalesce", type=float, default=5.0)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="last PostgreSQL run's data")
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dnp-bench-push-"))
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / f"large-seed{options.seed}.json"
    env = {**os.environ, "DNP_SECRET_KEY": "bench", "DNP_ENV": "testing"}
    if not data.exists():
        print(f"Generating {data.name} …", flush=True)
        run(["demo-data", "--scale", "large", "--seed", str(options.seed), "--write-file", str(data)], env)
    if options.reuse:
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/dnp_bench_push"
        env["DNP_DATABASE_URL"] = url
        run(["migrate"], env)  # the code may have moved on since that run
        forget_pushing(url)
        print("reusing the register and groups of the last PostgreSQL run; push state cleared")
    else:
        url = f"sqlite:///{tmp}/bench.sqlite3" if options.sqlite else fresh_postgres()
        env["DNP_DATABASE_URL"] = url
        run(["migrate"], env)
        started = time.perf_counter()
        run(["import", str(data)], env)
        print(f"register imported in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        groups, pupils = make_ready(url, options.persons)
        print(f"{groups} groups ready ({pupils} pupils), published in {time.perf_counter() - started:.0f} s")

    auth = FakeAuthServer(tmp / "nutid").start()
    api = FakeProvisioningApi(auth).start()
    api.delay, api.rate, api.max_bytes = options.delay, 5, 200_000
    redis = PrivateRedis(tmp).start()
    cert = auth.make_client_cert(tmp / "cert", registered=True)
    settings = {
        "DATABASE_URL": url,
        "REDIS_URL": redis.url,
        "AUTH_SERVER_URL": auth.transaction_url,
        "TLS_CLIENT_CERT": str(cert.cert_path),
        "TLS_CLIENT_KEY": str(cert.key_path),
        "TLS_CA_BUNDLE": str(auth.ca_bundle_path),
        "PROVISIONING_URL": api.url,
        "WEBHOOK_COALESCE_SECONDS": options.coalesce,
        "SECRET_KEY": "bench",
        "ENV": "testing",
    }
    process_env = {f"DNP_{key}": str(value) for key, value in settings.items()}
    workers = [
        WorkerProcess(process_env, redis.url, tmp / f"worker{n}.log", queues=("dnp-push",)).start()
        for n in range(options.workers)
    ]
    clock_log = (tmp / "clock.log").open("ab")
    clock = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "dnp", "sweeper"],
        env={**os.environ, **process_env},
        cwd=ROOT,
        stdout=clock_log,
        stderr=subprocess.STDOUT,
    )
    horses = HorseWatch([w.process.pid for w in workers])
    horses.start()
    try:
        measure(options, settings, api, workers, clock, horses, tmp)
    finally:
        horses.stopped.set()
        clock.terminate()
        clock.wait(10)
        for worker in workers:
            worker.stop()
        api.stop()
        auth.stop()
        redis.stop()
    print(f"(logs in {tmp})")


def measure(options, settings, api, workers, clock, horses, tmp) -> None:
    """The full push, then single changes; prints the figures."""
    from sqlalchemy import func
    from sqlmodel import Session
    from sqlmodel import select

    from dnp import create_app
    from dnp.delivery.push.method import PUSH
    from dnp.delivery.push.method import set_transfer_method
    from dnp.delivery.push.models import PushBatch
    from dnp.delivery.push.models import PushObject
    from dnp.publication.models import PublishedEntity
    from dnp.publication.publisher import Publisher
    from dnp.register.models import Person

    app = create_app(settings)
    engine = app.extensions["dnp.engine"]

    def memory() -> str:
        return " ".join(f"{rss_mb(w.process.pid):.0f}" for w in workers) + f" | clock {rss_mb(clock.pid):.0f}"

    with Session(engine) as session:
        published = dict(
            session.exec(
                select(PublishedEntity.resource, func.count())
                .where(PublishedEntity.resource.in_(("Person", "Duty", "Group", "Activity")))
                .group_by(PublishedEntity.resource)
            ).all()
        )
    total = sum(published.values())
    print(f"published: {json.dumps(published)}", flush=True)
    time.sleep(3)  # workers and clock up
    rss_start = memory()
    begun = time.time()
    with Session(engine) as session:
        set_transfer_method("bench@kommun.se", PUSH, session=session)
        session.commit()
    switched = time.time() - begun
    rss_middle = ""

    def stored() -> int:
        return sum(len(api.stored(path)) for path in ("persons", "duties", "groups", "activities"))

    def settled() -> bool:
        with Session(engine) as session:
            busy = session.exec(
                select(func.count()).select_from(PushBatch).where(PushBatch.status.in_(("new", "polling")))
            ).one()
            waiting = session.exec(
                select(func.count()).select_from(PushObject).where(PushObject.dirty.is_(True))
            ).one()
        return not busy and not waiting

    last_print = time.time()
    while True:
        time.sleep(1)
        count = stored()
        if not rss_middle and count >= total / 2:
            rss_middle = memory()
        if time.time() - last_print >= 30:
            last_print = time.time()
            print(f"  {time.time() - begun:5.0f} s: {count}/{total} stored", flush=True)
        if count >= total and settled():
            break
        if clock.poll() is not None or any(w.process.poll() is not None for w in workers):
            raise SystemExit(f"a process died; logs in {tmp}")
    # The end is when the last answer was fetched (the settled check above polls once a second).
    last_call = max(c.at for c in api.calls)
    wall = last_call - begun
    rss_end = memory()
    calls = [c for c in api.calls if c.at >= begun]
    writes = [c for c in calls if c.status == 202 and c.path.endswith(WRITE)]
    body_bytes = sum(c.size for c in writes)
    refused = sum(1 for c in calls if c.status == 429)
    status_calls = sum(1 for c in calls if c.status == 200 and "/jobs/" in c.path)
    min_writes = math.ceil(body_bytes / 200_000)
    order_waits = 2 * options.delay
    floor_issue = body_bytes / 200_000 / 5
    floor = 3 * min_writes / 5 + order_waits
    rate = len([c for c in calls if c.status != 429]) / wall

    per_call = body_bytes / max(1, len(writes)) / 1000
    print()
    print(f"full push of {total} objects ({json.dumps(published)}), {options.workers} forking workers")
    row("switch to push (full-sync marks)", f"{switched:.1f} s")
    row("wall time, switch → last answer", f"{wall:.1f} s")
    row("bodies sent", f"{body_bytes / 1e6:.1f} MB in {len(writes)} bulk calls, {per_call:.0f} KB each",
        f"fewest possible {min_writes}")  # fmt: skip
    row("status calls", f"{status_calls} ({status_calls / max(1, len(writes)):.2f} per bulk call)",
        "fewest possible 2 per call")  # fmt: skip
    row("calls per second", f"{rate:.2f} (429 answers: {refused})", "≤ 5, close to 5")
    row(f"floor (3 calls/200 KB ÷ 5/s + {order_waits:g} s)", f"{floor:.1f} s")
    row("ratio floor / wall", f"{floor / wall:.1%}", "≥ 90 %")
    row("writes-only floor (bytes÷200 KB÷5/s)", f"{floor_issue:.1f} s, ratio {floor_issue / wall:.1%}",
        "≤ 33 % possible: status calls share the 5/s")  # fmt: skip

    latencies = []
    with Session(engine) as session:
        pupils = session.exec(
            select(PublishedEntity.id).where(PublishedEntity.resource == "Person").limit(options.samples)
        ).all()
    for number, pupil in enumerate(pupils):
        seen = len(api.calls)
        with Session(engine) as session:
            person = session.get(Person, pupil)
            person.family_name = f"Ändrad{number}x{uuid.uuid4().hex[:6]}"  # a new value on every run
            session.add(person)
            Publisher(session=session).refresh(person_ids=[pupil])
            session.commit()
        changed = time.time()
        deadline = changed + options.coalesce + 60
        while time.time() < deadline:
            hit = [c for c in api.calls[seen:] if c.path == "persons/bulk" and pupil in c.ids]
            if hit:
                latencies.append(hit[0].at - changed)
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"change {number} never reached the fake")
    latencies.sort()
    p95 = latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)]
    median = statistics.median(latencies)
    row(f"change → first bulk call (n={len(latencies)})", f"p50 {median:.2f} s, p95 {p95:.2f} s",
        f"p95 ≤ {options.coalesce + 2:g} s (window {options.coalesce:g} s + 2 s)")  # fmt: skip
    row("RSS MB workers | clock: start", rss_start, "flat")
    row("                        middle", rss_middle)
    row("                           end", rss_end)
    row("largest work horse RSS", f"{horses.largest:.0f} MB")


def row(label: str, value: str, goal: str = "") -> None:
    """One figure, with its goal beside it."""
    print(f"  {label:<38} {value:<40} {'goal: ' + goal if goal else ''}".rstrip())


if __name__ == "__main__":
    main()
