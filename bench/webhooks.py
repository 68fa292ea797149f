"""Benchmark: change-to-webhook latency (p50/p95) with one forking RQ worker, and deliveries per second.

Everything real on loopback: SQLite database, private redis-server, `rq worker`, the sweeper, a TLS
webhook receiver and the fake nutid auth server (token over mutual TLS).

    .venv/bin/python bench/webhooks.py [--samples 20] [--coalesce 5] [--subscriptions 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402
from sqlmodel import select  # noqa: E402

from dnp import create_app  # noqa: E402
from dnp.auth.roles import Access  # noqa: E402
from dnp.delivery.models import Subscription  # noqa: E402
from dnp.demo.register import load_demo  # noqa: E402
from dnp.demo.users import CENTRAL_ADMIN  # noqa: E402
from dnp.groups import changes  # noqa: E402
from dnp.groups.models import TestGroup  # noqa: E402
from dnp.migrate import upgrade  # noqa: E402
from dnp.types import utcnow  # noqa: E402
from tests.delivery.harness import PrivateRedis  # noqa: E402
from tests.delivery.harness import Receiver  # noqa: E402
from tests.delivery.harness import Sweeper  # noqa: E402
from tests.delivery.harness import WorkerProcess  # noqa: E402
from tests.fakes.auth_server import FakeAuthServer  # noqa: E402
from tests.helpers import wait_for  # noqa: E402


def main() -> None:
    """Set everything up, measure, print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--coalesce", type=float, default=5.0)
    parser.add_argument("--subscriptions", type=int, default=200)
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dnp-bench-"))
    url = f"sqlite:///{tmp}/bench.sqlite3"
    upgrade(url)
    auth = FakeAuthServer(tmp / "nutid").start()
    redis = PrivateRedis(tmp).start()
    receiver = Receiver(auth.pki.server_pem).start()
    cert = auth.make_client_cert(tmp, registered=True)
    settings = {
        "DATABASE_URL": url,
        "REDIS_URL": redis.url,
        "AUTH_SERVER_URL": auth.transaction_url,
        "TLS_CLIENT_CERT": str(cert.cert_path),
        "TLS_CLIENT_KEY": str(cert.key_path),
        "TLS_CA_BUNDLE": str(auth.ca_bundle_path),
        "WEBHOOK_ALLOWED_TARGETS": receiver.url + "/hooks/",
        "WEBHOOK_COALESCE_SECONDS": options.coalesce,
        "SECRET_KEY": "bench",
        "ENV": "testing",
    }
    app = create_app(settings)
    engine = app.extensions["dnp.engine"]
    rights = Access(eppn=CENTRAL_ADMIN, central_admin=True)
    with Session(engine) as session:
        load_demo(1, "small", "bench", session=session)
        session.commit()
        group_id = session.exec(select(TestGroup.id).where(TestGroup.status == "ready")).first()
        session.add(
            Subscription(
                id=str(uuid.uuid4()),
                name="Skolverket",
                target=receiver.url + "/hooks/0",
                resource_types=["Organisation", "Person", "Group", "Duty", "Activity"],
                expires=utcnow() + timedelta(days=90),
            )
        )
        session.commit()
    env = {f"DNP_{key}": str(value) for key, value in settings.items()}
    worker = WorkerProcess(env, redis.url, tmp / "worker.log").start()
    sweeper = Sweeper(app, interval=0.5)
    with app.app_context():
        from dnp.jobs.sweeper import sweep_once

        sweep_once()
    sweeper.start()

    def change(number: int) -> float:
        with Session(engine) as session:
            group = session.get(TestGroup, group_id)
            changes.rename(rights.eppn, group, f"Bench {number}", session=session)
            session.commit()
        return time.time()

    latencies = []
    for number in range(options.samples):
        before = len(receiver.delivered())
        changed = change(number)
        wait_for(lambda before=before: len(receiver.delivered()) > before, timeout=60, message="delivery")
        latencies.append(receiver.delivered()[-1].at - changed)
    latencies.sort()
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    print(
        f"change-to-webhook latency, 1 worker, coalescing {options.coalesce:g} s, sweep 0.5 s, "
        f"{options.samples} changes: p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, "
        f"max {latencies[-1]:.2f} s"
    )

    with Session(engine) as session:
        for number in range(options.subscriptions):
            session.add(
                Subscription(
                    id=str(uuid.uuid4()),
                    name=f"s{number}",
                    target=f"{receiver.url}/hooks/{number + 1}",
                    resource_types=["Group"],
                    expires=utcnow() + timedelta(days=90),
                )
            )
        session.commit()
    time.sleep(1.5)  # the sweeper sets the new subscriptions' cursors
    before = len(receiver.delivered())
    started = change(10_000)
    target = before + options.subscriptions + 1
    wait_for(lambda: len(receiver.delivered()) >= target, timeout=600, message="all deliveries")
    elapsed = receiver.delivered()[-1].at - started - options.coalesce
    print(
        f"throughput, 1 worker: {options.subscriptions + 1} deliveries in {elapsed:.1f} s after coalescing "
        f"= {(options.subscriptions + 1) / elapsed:.1f} deliveries/s"
    )
    sweeper.stop()
    worker.stop()
    receiver.stop()
    redis.stop()
    auth.stop()


if __name__ == "__main__":
    main()
