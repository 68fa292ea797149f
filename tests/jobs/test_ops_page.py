"""The operations page against real Redis and real RQ workers."""

from __future__ import annotations

import pytest
from rq import Queue
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlmodel import select

from dnp.audit.models import AuditEvent
from tests.helpers import csrf_token
from tests.helpers import signed_in


@pytest.fixture
def operator(app, client):
    return signed_in(client, app, "drift@kommun.se", "operator")


def test_failed_job_is_shown_and_requeued(app, operator, redis, db):
    queue = Queue("dnp-jobs", connection=redis, serializer=JSONSerializer)
    job = queue.enqueue("tests.jobs.sample_jobs.explode", 7)
    SimpleWorker([queue], connection=redis, serializer=JSONSerializer).work(burst=True)
    page = operator.get("/ops/").get_data(as_text=True)
    assert job.id in page
    assert "tests.jobs.sample_jobs.explode(7)" in page
    assert "kaboom 7" in page
    response = operator.post(
        "/ops/jobb/ko-om",
        data={"job_id": job.id},
        headers={"X-CSRFToken": csrf_token(operator), "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "1 jobb lades tillbaka" in response.get_data(as_text=True)
    assert queue.count == 1
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "ops.requeued")).one().entity_id == job.id


def test_workers_and_their_heartbeats(operator, redis):
    assert "Ingen arbetare är igång" in operator.get("/ops/").get_data(as_text=True)
    queue = Queue("dnp-webhooks", connection=redis, serializer=JSONSerializer)
    worker = SimpleWorker([queue], connection=redis, serializer=JSONSerializer, name="test-worker-1")
    worker.register_birth()
    worker.heartbeat()
    page = operator.get("/ops/").get_data(as_text=True)
    assert "test-worker-1" in page
    assert "s sedan" in page
    worker.register_death()


def test_redis_down_is_said_in_words(app, operator):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app.extensions.pop("dnp.redis", None)
    page = operator.get("/ops/")
    assert page.status_code == 200
    assert "Redis går inte att nå" in page.get_data(as_text=True)


def test_fragment_for_polling(operator, redis):
    fragment = operator.get("/ops/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.strip().startswith('<div id="ops-panel"')
    assert "<html" not in fragment
