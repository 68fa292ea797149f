"""DNP: gets pupils and staff into Skolverket's digital national tests."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask

from dnp import db
from dnp import request_limits
from dnp.auth.saml.sp import config_problems
from dnp.config import from_environment
from dnp.extensions import csrf
from dnp.extensions import htmx
from dnp.login import login_manager


def create_app(test_config: Mapping | None = None) -> Flask:
    """Build the application: configuration, database, blueprints, commands."""
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(from_environment())
    if test_config:
        app.config.update(test_config)
    _check_config(app)
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or "dev-only-not-secret"
    app.config.update(
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_NAME="dnp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["ENV"] == "production",
        REMEMBER_COOKIE_DURATION=0,
    )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db.init_app(app)
    request_limits.init_app(app)  # before CSRF, which reads the form
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)

    from dnp import web
    from dnp.cli import dnp_cli
    from dnp.routes import admin
    from dnp.routes import auth
    from dnp.routes import connection
    from dnp.routes import groups
    from dnp.routes import health
    from dnp.routes import home
    from dnp.routes import ingest
    from dnp.routes import ops
    from dnp.routes import saml
    from dnp.routes import settings
    from dnp.routes import ss12000
    from dnp.routes.groups import editor  # noqa: F401  (adds its views to groups.bp)
    from dnp.routes.groups import overview  # noqa: F401  (adds its views to groups.bp)

    web.init_url_map(app)  # before the blueprints: the rules take their converters when added
    app.register_blueprint(admin.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(connection.bp)
    app.register_blueprint(groups.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(ingest.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(saml.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(ss12000.bp)
    csrf.exempt(ingest.bp)
    csrf.exempt(ss12000.bp)
    csrf.exempt(saml.acs)  # the IdP posts cross-site; the signed assertion is the proof
    web.init_app(app)
    app.cli.add_command(dnp_cli)
    return app


def _check_config(app: Flask) -> None:
    """Refuse to start in production without the settings that keep it safe."""
    if app.config["ENV"] not in ("development", "production", "testing"):
        raise RuntimeError("DNP_ENV must be 'development' or 'production'")
    if app.config["ENV"] == "production" and not app.config.get("SECRET_KEY"):
        raise RuntimeError("DNP_SECRET_KEY must be set in production")
    if app.config["ENV"] == "production" and (problems := config_problems(app.config)):
        raise RuntimeError("SAML sign-in is not configured: " + "; ".join(problems))
