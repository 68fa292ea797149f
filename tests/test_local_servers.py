"""Servers a test run or ``make run`` brings up when the machine has none; each run's own Redis databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine
from sqlalchemy import text

from tests import local_servers
from tests.delivery.harness import PrivateRedis
from tests.local_servers import RedisDatabaseClaim
from tests.local_servers import RedisServer
from tests.local_servers import claim_test_redis
from tests.local_servers import start_test_servers

ROOT = Path(__file__).resolve().parents[1]
NOTHING_THERE_REDIS = "redis://127.0.0.1:1/0"
NOTHING_THERE_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/test"


@pytest.fixture
def server(tmp_path):
    """A Redis server of the test's own, standing in for a shared one."""
    server = RedisServer(directory=tmp_path).start()
    yield server
    server.stop()


def test_a_private_redis_starts_from_the_wheel_when_no_redis_server_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server anywhere
    private = PrivateRedis(tmp_path).start()
    try:
        info = redis.Redis(port=private.port).info("server")
        assert info["server_name"] == "valkey"
    finally:
        private.stop()
    assert not local_servers.redis_answers(private.url)


def test_each_test_process_gets_a_redis_database_no_other_run_holds(server):
    environ = {"DNP_TEST_REDIS_URL": server.url}
    holders = [claim_test_redis(environ, worker, f"gw{worker}") for worker in range(3)]
    urls = [url for url, _ in holders]
    assert len(set(urls)) == 3
    assert all(not url.endswith("/0") for url in urls)  # database 0 holds the claims
    _, first = holders[0]
    first.close()
    again, holder = claim_test_redis(environ, 0, "later")
    assert again == urls[0]  # given back, so taken again
    for _, other in holders[1:] + [(again, holder)]:
        other.close()


def test_a_claimed_database_is_emptied_and_a_killed_runs_claim_expires(server):
    environ = {"DNP_TEST_REDIS_URL": server.url}
    redis.Redis(port=server.port, db=1).set("left-over", "x")
    url, holder = claim_test_redis(environ, 0, "gw0")
    assert url.endswith("/1")
    assert redis.Redis.from_url(url).dbsize() == 0
    holder.stopped.set()  # the run is killed: nobody renews its claim
    claims = redis.Redis(port=server.port)
    assert 0 < claims.ttl("dnp:test-claim:1") <= local_servers.CLAIM_TTL
    claims.expire("dnp:test-claim:1", 0)  # as it will after CLAIM_TTL seconds
    url_again, other = claim_test_redis(environ, 0, "gw0")
    assert url_again == url
    other.close()


def test_a_fixed_database_base_is_claimed_too_and_a_clash_is_an_error(server):
    environ = {"DNP_TEST_REDIS_URL": server.url, "DNP_TEST_REDIS_DB_BASE": "12"}
    url, holder = claim_test_redis(environ, 1, "gw1")
    assert url.endswith("/13")
    with pytest.raises(RuntimeError, match="13"):
        claim_test_redis(environ, 1, "gw1")
    holder.close()


def test_a_private_server_when_every_database_is_taken(server, monkeypatch):
    monkeypatch.setattr(RedisDatabaseClaim, "candidates", lambda self: [1])
    environ = {"DNP_TEST_REDIS_URL": server.url}
    taken_url, taken = claim_test_redis(environ, 0, "gw0")
    url, private = claim_test_redis(environ, 1, "gw1")
    assert f":{server.port}/" not in url and local_servers.redis_answers(url)
    private.close()
    taken.close()


def test_a_test_run_starts_postgresql_and_redis_when_nothing_answers():
    environ = {"DNP_TEST_REDIS_URL": NOTHING_THERE_REDIS, "DNP_TEST_POSTGRES_URL": NOTHING_THERE_POSTGRES}
    started = start_test_servers(environ, postgres=True)
    try:
        assert len(started) == 2 and environ["DNP_TEST_RUN_ID"]
        assert local_servers.redis_answers(environ["DNP_TEST_REDIS_URL"])
        engine = create_engine(environ["DNP_TEST_POSTGRES_URL"])
        with engine.connect() as connection:
            assert connection.execute(text("SHOW server_version_num")).scalar() >= "180000"
        engine.dispose()
    finally:
        for server in started:
            server.close()
    assert not local_servers.redis_answers(environ["DNP_TEST_REDIS_URL"])
    assert not local_servers.postgres_answers(environ["DNP_TEST_POSTGRES_URL"])


def test_servers_that_answer_are_used_as_they_are(server):
    environ = {"DNP_TEST_REDIS_URL": server.url, "DNP_TEST_POSTGRES_URL": NOTHING_THERE_POSTGRES}
    started = start_test_servers(environ, postgres=False)
    assert started == [] and environ["DNP_TEST_REDIS_URL"] == server.url


def test_make_run_starts_redis_at_its_url_for_the_commands_lifetime_and_stops_it_after(tmp_path):
    port = local_servers.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    probe = f"import redis; print(redis.Redis.from_url('{url}').ping())"
    result = subprocess.run(
        [sys.executable, "-m", "tests.local_servers", "redis", "--", sys.executable, "-c", probe],
        env={**os.environ, "DNP_REDIS_URL": url, "PATH": str(tmp_path), "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "True"
    assert not local_servers.redis_answers(url)
