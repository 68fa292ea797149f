"""A live DNP server with the small demo municipality, and Debian's Chromium (tests and screenshots)."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from dataclasses import field

from flask import Flask
from flask import got_request_exception
from sqlmodel import Session
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from dnp import create_app
from dnp.demo.register import load_demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_SEED = 1


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


@dataclass
class LiveServer:
    """The real app served over HTTP in a thread; ``errors`` collects exceptions raised in views."""

    app: Flask
    url: str
    server: BaseWSGIServer
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    def session(self) -> Session:
        """A database session for arranging and asserting (outside any request)."""
        return Session(self.app.extensions["dnp.engine"], expire_on_commit=False)

    def stop(self) -> None:
        """Stop serving and release the database."""
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()
        self.app.extensions["dnp.engine"].dispose()


def closed_port_url() -> str:
    """An http URL on a local port nobody listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def start_live_server(database_url: str, redis_url: str, **config) -> LiveServer:
    """Serve the app (development mode, jobs in-process) on a free port of 127.0.0.1."""
    app = create_app(
        {
            "ENV": "development",  # /auth/dev-login exists
            "SECRET_KEY": "browser-test-secret",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "JOBS_INLINE": True,
            "OPEN_DATA_URL": closed_port_url(),  # the catalog refresh falls back to the demo catalog fast
            **config,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="dnp-live-server", daemon=True)
    live = LiveServer(app, f"http://127.0.0.1:{server.port}", server, thread)
    got_request_exception.connect(
        lambda sender, exception, **extra: live.errors.append(exception), app, weak=False
    )
    thread.start()
    return live


def load_small_demo(live: LiveServer) -> None:
    """The small demo municipality: 6 units, classes, staff, demo roles and demo groups."""
    with live.session() as session:
        load_demo(DEMO_SEED, "small", "browser-tests", session=session)
        session.commit()


def launch_chromium(playwright):
    """Debian's Chromium, headless (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def sign_in(page, base_url: str, eppn: str) -> None:
    """Sign in through the development form, as a person would (type the EPPN, press the button)."""
    page.goto(f"{base_url}/auth/dev-login")
    form = page.locator("form.card")
    form.get_by_label("Annan EPPN").fill(eppn)
    with page.expect_navigation():
        form.get_by_role("button", name="Logga in").click()


def csrf_token(page) -> str:
    """The CSRF token the current page embeds for HTMX."""
    return page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
