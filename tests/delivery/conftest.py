"""An environment for delivery tests: private Redis, TLS receiver, fake nutid, a forking RQ worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import Session
from sqlmodel import select

from dnp.auth.roles import Access
from dnp.delivery.models import Delivery
from dnp.delivery.models import Subscription
from dnp.groups import changes
from dnp.publication.models import Outbox
from dnp.types import utcnow
from tests.delivery.harness import PrivateRedis
from tests.delivery.harness import Receiver
from tests.delivery.harness import Sweeper
from tests.delivery.harness import WorkerProcess
from tests.delivery.harness import passes_through_our_code
from tests.fakes.auth_server import API_LOCATION
from tests.helpers import wait_for
from tests.ss12000.helpers import change_group
from tests.ss12000.helpers import make_group

ADMIN = Access(eppn="admin@kommun.se", central_admin=True)
SUBSCRIPTION_ID = "5b1d1c55-0000-4000-8000-000000000001"


@dataclass
class DeliveryEnv:
    """Everything a delivery test needs, started and wired together."""

    app: object
    engine: object
    world: object
    auth: object
    redis: PrivateRedis
    receiver: Receiver
    worker: WorkerProcess
    sweeper: Sweeper
    worker_env: dict
    group_id: str

    def session(self) -> Session:
        """A fresh session (tests change data like the web app would)."""
        return Session(self.engine, expire_on_commit=False)

    def deliveries(self) -> list[Delivery]:
        """All deliveries, oldest first."""
        with self.session() as session:
            return list(session.exec(select(Delivery).order_by(Delivery.id)).all())

    def change(self, number: int = 0) -> None:
        """One real publication change: rename the ready group (its Group document changes)."""
        with self.session() as session:
            group = changes.visible_group(ADMIN, self.group_id, session=session)
            changes.rename(ADMIN.eppn, group, f"MA åk 9 variant {number}", session=session)
            session.commit()

    def max_outbox(self) -> int:
        """The newest outbox row."""
        with self.session() as session:
            return session.exec(select(Outbox.id).order_by(Outbox.id.desc())).first() or 0

    def wait_delivered_through(self, outbox_id: int, timeout: float = 30.0) -> Delivery:
        """Wait until a delivered delivery covers ``outbox_id``."""

        def covered():
            for delivery in reversed(self.deliveries()):
                if delivery.status == "delivered" and delivery.last_outbox_id >= outbox_id:
                    return delivery
            return None

        try:
            return wait_for(covered, timeout, message=f"a delivery covering outbox row {outbox_id}")
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n{self.diagnosis()}") from None

    def diagnosis(self) -> str:
        """What a timed-out wait needs to be understood: the deliveries and the worker's last log lines."""
        rows = [
            f"  delivery {d.id}: {d.status} attempts={d.attempts}"
            f" outbox {d.first_outbox_id}..{d.last_outbox_id} next={d.next_attempt_at}"
            f" in_flight_since={d.in_flight_since} error={d.last_error!r}"
            for d in self.deliveries()
        ]
        log_file = self.worker.log
        log = log_file.read_text(errors="replace").splitlines()[-40:] if log_file.exists() else []
        return "deliveries:\n" + "\n".join(rows) + "\nworker log (last 40 lines):\n" + "\n".join(log)

    def restart_worker(self, **env) -> None:
        """Stop the worker and start a new one, optionally with other settings."""
        self.worker.stop()
        self.worker_env.update({f"DNP_{key}": str(value) for key, value in env.items()})
        self.worker = WorkerProcess(self.worker_env, self.redis.url, self.worker.log).start()


def configure(app, auth, receiver, redis, cert, scale: float) -> dict:
    """Settings shared by the test process (sweeper, API) and the worker process."""
    settings = {
        "REDIS_URL": redis.url,
        "AUTH_SERVER_URL": auth.transaction_url,
        "TLS_CLIENT_CERT": str(cert.cert_path),
        "TLS_CLIENT_KEY": str(cert.key_path),
        "TLS_CA_BUNDLE": str(auth.ca_bundle_path),
        "WEBHOOK_ALLOWED_TARGETS": receiver.url + "/hooks/",
        "WEBHOOK_COALESCE_SECONDS": 1.0,
        "WEBHOOK_TIME_SCALE": scale,
        "WEBHOOK_TIMEOUT": 2.0,
        "SS12000_JWKS_URL": auth.jwks_url,
        "SS12000_ISSUER": auth.issuer,
        "SS12000_AUDIENCE": "nutid",
        "SS12000_LOCATION": API_LOCATION,
    }
    app.config.update(settings)
    app.extensions.pop("dnp.redis", None)
    return settings


@pytest.fixture
def delivery_env(request, app, world, auth_server, tmp_path):
    """A ready group, a subscription, and the whole delivery machinery running."""
    scale = getattr(request, "param", 0.0002)
    redis = PrivateRedis(tmp_path).start()
    receiver = Receiver(auth_server.pki.server_pem).start()
    cert = auth_server.make_client_cert(tmp_path, registered=True)
    settings = configure(app, auth_server, receiver, redis, cert, scale)
    engine = app.extensions["dnp.engine"]
    group_id = make_group(
        app, world.unit["id"], [world.class_a["id"]], staff=[world.teacher["id"]], ready=False, name="MA åk 9"
    )
    with Session(engine) as session:
        session.add(
            Subscription(
                id=SUBSCRIPTION_ID,
                name="Skolverket",
                target=receiver.url + "/hooks/skolverket",
                resource_types=["Organisation", "Person", "Group", "Duty", "Activity"],
                expires=utcnow() + timedelta(days=90),
            )
        )
        session.commit()
    with app.app_context():
        from dnp.jobs.sweeper import sweep_once

        sweep_once()  # the subscription's cursor starts here
    change_group(app, group_id, "mark_ready")
    worker_env = {f"DNP_{key}": str(value) for key, value in settings.items()}
    worker_env.update(
        DNP_ENV="testing",
        DNP_DATABASE_URL=app.config["DATABASE_URL"],
        DNP_SECRET_KEY=app.config["SECRET_KEY"],
    )
    worker = WorkerProcess(worker_env, redis.url, tmp_path / "worker.log").start()
    sweeper = Sweeper(app).start()
    env = DeliveryEnv(app, engine, world, auth_server, redis, receiver, worker, sweeper, worker_env, group_id)
    yield env
    env.sweeper.stop()  # a test may have stopped the first and started another
    env.worker.stop()
    receiver.stop()
    redis.stop()
    log = (tmp_path / "worker.log").read_text(errors="replace")
    # A traceback through our code is a bug, unless it is Redis going away under a running job (the
    # Redis-outage test stops it on purpose; RQ then logs the ConnectionError it hit).
    for block in log.split("Traceback (most recent call last):")[1:]:
        ours = passes_through_our_code(block)
        assert not ours or "redis.exceptions.ConnectionError" in block, block[:4000]
