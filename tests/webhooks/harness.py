"""Real parts for delivery tests: a private Redis, a TLS webhook receiver, forking RQ workers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    """Poll until ``predicate()`` is truthy; fail the test with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


class PrivateRedis:
    """A redis-server of the test's own, so it can be stopped without disturbing anyone."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        """Start (again) on the same port."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        import redis

        wait_for(lambda: _pings(redis.Redis(port=self.port)), message="redis to start")
        return self

    def stop(self) -> None:
        """Stop it (everything in it is lost, as in an outage without persistence)."""
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@dataclass
class Receipt:
    """One webhook the receiver got."""

    at: float
    path: str
    authorization: str
    body: dict
    status: int


@dataclass
class Receiver:
    """Skolverket's webhook endpoint, over real TLS on 127.0.0.1, with switchable behaviour.

    ``mode``: ``ok`` (204), ``fail`` (500 for ``failures`` times, then ok), ``hang`` (no answer
    until released), ``redirect`` (302 elsewhere), ``unauthorized_once`` (401 then ok).
    """

    server_pem: Path
    mode: str = "ok"
    failures: int = 0
    receipts: list[Receipt] = field(default_factory=list)
    hits: int = 0

    def start(self) -> Receiver:
        """Listen on a random port."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.server_pem))
        receiver = self
        self.release = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                receiver.hits += 1
                status = receiver._status()
                if status is None:
                    receiver.release.wait(60)
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                receiver.receipts.append(
                    Receipt(time.time(), self.path, self.headers.get("Authorization", ""), body, status)
                )
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "https://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def _status(self) -> int | None:
        if self.mode == "hang":
            return None
        if self.mode == "redirect":
            return 302
        if self.mode == "unauthorized_once":
            self.mode = "ok"
            return 401
        if self.mode == "fail":
            if self.failures > 0:
                self.failures -= 1
                return 500
            return 204
        if self.mode == "down":
            return 503
        return 204

    @property
    def url(self) -> str:
        """Base URL."""
        return f"https://127.0.0.1:{self.httpd.server_port}"

    def delivered(self) -> list[Receipt]:
        """Receipts answered with a 2xx."""
        return [r for r in self.receipts if 200 <= r.status < 300]

    def stop(self) -> None:
        """Shut down."""
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class WorkerProcess:
    """``python -m dnp.worker`` in a subprocess: forking RQ as in production, set up by DNP_* variables."""

    def __init__(self, env: dict[str, str], redis_url: str, log: Path):
        self.env = {**os.environ, **env}
        self.redis_url = redis_url
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        """Start a worker on the webhooks queue."""
        self.log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dnp.worker",
                "--worker-ttl",
                "30",
                "--maintenance-interval",
                "5",
                "dnp-webhooks",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill_hard(self) -> None:
        """SIGKILL the worker and its work horse (a crash, not a shutdown)."""
        if not self.process:
            return
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        for pid in [self.process.pid, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        self.process.wait()
        self.process = None
        self.log_file.close()

    def stop(self) -> None:
        """Stop gracefully (or hard if it does not stop)."""
        if not self.process:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill_hard()
            return
        self.process = None
        self.log_file.close()


class Sweeper:
    """The clock process's loop, run in a thread of the test process at a short interval."""

    def __init__(self, app, interval: float = 0.2):
        self.app = app
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from dnp.jobs.sweeper import run_forever

        with self.app.app_context():
            run_forever(self.interval, stop=self.stopped.is_set)

    def start(self) -> Sweeper:
        """Start sweeping."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop sweeping."""
        self.stopped.set()
        self.thread.join(10)
