"""HTML helpers: full page or HTMX fragment from one URL, security headers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask import Response
from flask import abort
from flask import current_app
from flask import render_template
from flask import request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from htmx_flask import make_response as htmx_response
from htmx_flask.requests import HtmxAwareRequest
from jinja2_fragments.flask import render_block
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from dnp.common.request_input import MAX_DATABASE_ID
from dnp.common.request_input import BadInput
from dnp.common.request_input import check_texts
from dnp.common.request_input import is_storable
from dnp.common.wording import counted
from dnp.connection.status import certificate_warning
from dnp.db import get_session
from dnp.routes.api_errors import json_error

STOCKHOLM = ZoneInfo("Europe/Stockholm")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


def is_htmx() -> bool:
    """True for an HTMX request that is not a history restore."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def htmx_redirect(target: str, status: int = 204) -> Response:
    """Answer HTMX with ``HX-Redirect``: a full page load of ``target`` (not a fragment swap)."""
    response = htmx_response("", status, redirect=target)
    response.vary.add("HX-Request")
    return response


def render(template: str, block: str | None = None, status: int = 200, **context) -> Response:
    """Render the whole page, or only ``block`` when HTMX asked for a fragment."""
    if block and is_htmx():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **_layout_context(status), **context)
    response = Response(body, status=status, mimetype="text/html")
    response.vary.add("HX-Request")
    return response


def _layout_context(status: int) -> dict:
    """What the page layout shows besides the view's own content, looked up here and not by the template.

    Only full pages get here (a fragment has no layout), so HTMX swaps and the JSON APIs never pay for it.
    The certificate banner is for central administrators; a server error page does not touch the database.
    """
    warning = None
    if status < 500 and current_user.is_authenticated and current_user.access.central_admin:
        warning = certificate_warning(current_app.config, get_session())
    return {"certificate_warning": warning}


def _htmx_redirects(response: Response) -> Response:
    """A redirect answering HTMX becomes HX-Location, so htmx navigates instead of swapping a page in."""
    if response.status_code in (301, 302, 303, 307, 308):
        response.vary.add("HX-Request")  # the same redirect is a Location for browsers, HX-Location for htmx
        if is_htmx() and response.location:
            response.headers["HX-Location"] = response.location
            response.status_code = 204
            del response.headers["Location"]
    return response


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    if current_app.config["ENV"] == "production":
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.path.startswith(JSON_PREFIXES) or current_user.is_authenticated:
        # Pages for signed-in users and API answers carry personal data: never cache them.
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


JSON_PREFIXES = ("/ingest/", "/ss12000/")
ERROR_TEXTS = {
    400: ("Felaktig begäran", "Begäran kunde inte tolkas. Kontrollera uppgifterna och försök igen."),
    403: ("Ingen behörighet", "Du har inte behörighet till den här sidan."),
    404: (
        "Sidan finns inte",
        "Sidan eller uppgiften du söker finns inte, eller så saknar du åtkomst till den.",
    ),
    405: ("Otillåten metod", "Den här adressen tar inte emot den sortens begäran."),
    413: ("För stor begäran", "Det du skickade var för stort."),
    500: ("Något gick fel", "Ett oväntat fel inträffade. Försök igen om en stund."),
}


def _http_error(error: HTTPException):
    status = error.code or 500
    if request.path.startswith(JSON_PREFIXES):
        response = json_error(status, error.description or error.name)
        if status == 405 and getattr(error, "valid_methods", None):
            response[0].headers["Allow"] = ", ".join(error.valid_methods)
        return response
    title, text = ERROR_TEXTS.get(status, (error.name, error.description or ""))
    if status == 400 and error.description and "CSRF" in error.description:
        text = "Formuläret har gått ut eller saknar säkerhetstoken. Ladda om sidan och försök igen."
    return render("errors/error.html", status=status, title=title, text=text, code=status)


def localtime(value: datetime | None) -> str:
    """A UTC time as Swedish local time, ``2026-11-28 14:05``."""
    if value is None:
        return "–"
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


class PageSessionInterface(SecureCookieSessionInterface):
    """Cookie sessions for the pages only: the JSON APIs authenticate every request with a token, so
    they get Flask's null session (no cookie read or set, and one thing less on every API page)."""

    def open_session(self, app: Flask, request):
        """The signed-cookie session, or None (the null session) under the JSON APIs."""
        if request.path.startswith(JSON_PREFIXES):
            return None
        return super().open_session(app, request)


class CheckedRequest(HtmxAwareRequest):
    """A request whose form fields (and upload file names) are checked when the form is first read:
    by the CSRF check or by the view, whichever comes first, so every form route is covered.
    It is htmx-flask's request, so ``request.htmx`` reads the HX-* headers."""

    def _load_form_data(self) -> None:
        already = "form" in self.__dict__
        super()._load_form_data()
        if not already:
            texts = [text for pair in self.form.items(multi=True) for text in pair]
            for name, upload in self.files.items(multi=True):
                texts += [name, upload.filename or ""]
            _refuse_unstorable(texts, "form fields")


def _refuse_unstorable(texts, where: str) -> None:
    """A 400 (JSON on the APIs, the Swedish error page elsewhere) for text PostgreSQL cannot store."""
    try:
        check_texts(texts, where)
    except BadInput as error:
        abort(400, str(error))


def _check_url() -> None:
    """Before every view: the path (else 404) and the query string (else 400) hold only storable text."""
    if not is_storable(request.path):
        abort(404)  # no page or entity has such a name
    _refuse_unstorable([text for pair in request.args.items(multi=True) for text in pair], "query arguments")


class IdConverter(IntegerConverter):
    """``<int:…>`` for database ids: ASCII digits up to PostgreSQL's integer maximum, so a larger id is a
    404 from the router and never an overflow in the database (every ``<int:…>`` route gets this one)."""

    regex = "[0-9]{1,10}"  # ASCII digits only (\d takes every script's digits), no more than fit

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_DATABASE_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits, min, max, signed)


def init_url_map(app: Flask) -> None:
    """Converters every route uses; called before any blueprint adds its routes."""
    app.url_map.converters["int"] = IdConverter


def init_app(app: Flask) -> None:
    """Register response hooks, error pages and template helpers."""
    app.session_interface = PageSessionInterface()
    app.request_class = CheckedRequest
    app.before_request(_check_url)
    app.after_request(_security_headers)
    app.after_request(_htmx_redirects)
    app.register_error_handler(HTTPException, _http_error)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["counted"] = counted
