"""Push tests: the fake nutid and the fake Provisioning API, a ready group, jobs run in this process."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from redis import Redis
from rq import Queue
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from sqlmodel import Session
from sqlmodel import select

from dnp.auth.roles import Access
from dnp.delivery.push.method import PUSH
from dnp.delivery.push.method import set_transfer_method
from dnp.delivery.push.models import PushBatch
from dnp.delivery.push.models import PushObject
from dnp.groups import changes
from dnp.jobs import PUSH_QUEUE
from dnp.jobs import context as job_context
from tests.fakes.provisioning import FakeProvisioningApi
from tests.ss12000.helpers import make_group

ADMIN = Access(eppn="admin@kommun.se", central_admin=True)


@dataclass
class PushEnv:
    """The app set up to push to the fake, and helpers to drive the pipeline step by step."""

    app: object
    world: object
    auth: object
    api: FakeProvisioningApi
    redis: Redis
    group_id: str

    def session(self) -> Session:
        """A fresh session."""
        return Session(self.app.extensions["dnp.engine"], expire_on_commit=False)

    def switch_to_push(self) -> None:
        """Choose push centrally (as the settings page does)."""
        with self.session() as session:
            set_transfer_method(ADMIN.eppn, PUSH, session=session)
            session.commit()

    def step(self) -> dict:
        """One sweep, then every job it enqueued, run by RQ's SimpleWorker in this process."""
        from dnp.jobs.sweeper import sweep_once

        with self.app.app_context():
            result = sweep_once()
        queue = Queue(PUSH_QUEUE, connection=self.redis, serializer=JSONSerializer)
        SimpleWorker([queue], connection=self.redis, serializer=JSONSerializer).work(burst=True)
        failed = FailedJobRegistry(queue=queue)
        for job_id in failed.get_job_ids():
            job = queue.fetch_job(job_id)
            raise AssertionError(f"push job {job_id} failed:\n{job.latest_result().exc_string}")
        return result

    def settle(self, rounds: int = 60) -> int:
        """Step until nothing is in flight or waiting for a retry and a sweep plans nothing; returns steps.

        Objects whose order rule is not met (a Duty whose Person was refused) stay dirty: they wait.
        """
        for number in range(1, rounds + 1):
            result = self.step()
            if self.quiet() and not result.get("push_planned") and not result.get("push_enqueued"):
                return number
        raise AssertionError(f"push did not settle in {rounds} steps: {self.batches()[-3:]}")

    def quiet(self) -> bool:
        """Nothing to send or poll, nothing waiting for a retry time."""
        from dnp.types import utcnow

        with self.session() as session:
            busy = session.exec(select(PushBatch).where(PushBatch.status.in_(("new", "polling")))).first()
            later = session.exec(
                select(PushObject).where(PushObject.dirty.is_(True), PushObject.due_at > utcnow())
            ).first()
            return busy is None and later is None

    def objects(self, resource: str | None = None) -> dict[str, PushObject]:
        """Push state per entity id."""
        with self.session() as session:
            query = select(PushObject)
            if resource:
                query = query.where(PushObject.resource == resource)
            return {o.entity_id: o for o in session.exec(query).all()}

    def batches(self) -> list[PushBatch]:
        """All bulk calls, oldest first."""
        with self.session() as session:
            return list(session.exec(select(PushBatch).order_by(PushBatch.id)).all())

    def group(self):
        """The ready test group."""
        with self.session() as session:
            return changes.visible_group(ADMIN, self.group_id, session=session)


def push_settings(auth, api, cert, redis_url: str) -> dict:
    """What the app and a worker process need to push to the fakes."""
    return {
        "REDIS_URL": redis_url,
        "AUTH_SERVER_URL": auth.transaction_url,
        "TLS_CLIENT_CERT": str(cert.cert_path),
        "TLS_CLIENT_KEY": str(cert.key_path),
        "TLS_CA_BUNDLE": str(auth.ca_bundle_path),
        "PROVISIONING_URL": api.url,
        "PROVISIONING_RATE": 5,
        "PROVISIONING_MAX_BYTES": 200_000,
        "PROVISIONING_TIMEOUT": 3.0,
        "PROVISIONING_POLL_SECONDS": 0.0,
        "WEBHOOK_COALESCE_SECONDS": 0.0,
        "WEBHOOK_TIME_SCALE": 0.0001,
    }


@pytest.fixture
def provisioning_api(auth_server):
    """A running fake Provisioning API that trusts the fake nutid's tokens."""
    with FakeProvisioningApi(auth_server) as api:
        api.delay = 0.0
        yield api
    assert not api.errors, "the fake Provisioning API crashed:\n" + "\n".join(api.errors)


@pytest.fixture
def push_env(app, world, auth_server, provisioning_api, redis_url, tmp_path):
    """A ready group of class 9A (four pupils) and its teacher; the method is still pull."""
    cert = auth_server.make_client_cert(tmp_path, registered=True)
    app.config.update(push_settings(auth_server, provisioning_api, cert, redis_url))
    app.extensions.pop("dnp.redis", None)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    job_context.set_worker_app(app)
    class_a, teacher = world.class_a["id"], world.teacher["id"]
    group_id = make_group(app, world.unit["id"], [class_a], staff=[teacher], name="MA åk 9")
    yield PushEnv(app, world, auth_server, provisioning_api, redis, group_id)
    job_context.set_worker_app(None)
