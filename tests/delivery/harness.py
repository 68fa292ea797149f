"""Real parts for delivery tests: a private Redis, a TLS webhook receiver, forking RQ workers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
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

import dnp
from tests.local_servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGE = Path(dnp.__file__).resolve().parent
FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+')


def passes_through_our_code(traceback: str) -> bool:
    """Whether a logged traceback has a frame in a module of the ``dnp`` package being tested.

    Decided by the frame's file lying under the package's own directory, not by its path's spelling: in a
    checkout in a folder named ``dnp`` every library path holds ``dnp/`` too.
    """
    for line in traceback.splitlines():
        if match := FRAME.match(line):
            path = Path(match["path"])
            if path.is_absolute() and path.resolve().is_relative_to(OUR_PACKAGE):
                return True
    return False


class PrivateRedis(RedisServer):
    """A Redis server of the test's own, so it can be stopped without disturbing anyone."""

    def __init__(self, directory: Path):
        super().__init__(directory=directory)


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
    until released), ``hold`` (204 once released), ``redirect`` (302 elsewhere), ``unauthorized_once``
    (401 then ok).
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
        if self.mode == "hold":
            self.release.wait(120)
            return 204
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

    def __init__(
        self, env: dict[str, str], redis_url: str, log: Path, queues: tuple[str, ...] = ("dnp-webhooks",)
    ):
        self.queues = queues
        self.env = {**os.environ, **env}
        self.redis_url = redis_url
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        """Start a worker on its queues (the webhooks queue by default)."""
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
                *self.queues,
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
