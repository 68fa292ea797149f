"""The SS 12000 API that Skolverket's client pulls from (bearer JWT from Sunet's auth server)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from flask import request

from dnp.common.request_input import BadInput
from dnp.common.request_input import parse_json
from dnp.db import get_engine
from dnp.db import get_session
from dnp.delivery import subscriptions
from dnp.delivery.push.method import is_push
from dnp.publication.models import PublishedEntity
from dnp.request_limits import SS12000_MAX_BODY
from dnp.routes.api_errors import json_error
from dnp.routes.api_errors import register_json_errors
from dnp.ss12000 import feedback
from dnp.ss12000.auth import AuthError
from dnp.ss12000.auth import JwtVerifier
from dnp.ss12000.call_log import CallLog
from dnp.ss12000.query import DELETED_FILTERS
from dnp.ss12000.query import LIST_FILTERS
from dnp.ss12000.query import RESOURCES
from dnp.ss12000.query import BadQuery
from dnp.ss12000.query import PageTokens
from dnp.ss12000.query import is_uuid
from dnp.ss12000.query import page_request
from dnp.ss12000.reader import deleted_page
from dnp.ss12000.reader import stream_page

log = logging.getLogger(__name__)
bp = Blueprint("ss12000", __name__, url_prefix="/ss12000")
register_json_errors(bp)
KINDS = "any(organisations, persons, groups, duties, activities)"


def _verifier() -> JwtVerifier:
    """One verifier per app, so the JWKS cache is shared by every request."""
    verifier = current_app.extensions.get("dnp.ss12000_verifier")
    if verifier is None:
        verifier = current_app.extensions["dnp.ss12000_verifier"] = JwtVerifier.from_config(
            current_app.config
        )
    return verifier


def _call_log() -> CallLog:
    """One call log per app: calls are written in batches off the request path."""
    calls = current_app.extensions.get("dnp.call_log")
    if calls is None:
        calls = current_app.extensions["dnp.call_log"] = CallLog(get_engine())
    return calls


def _tokens() -> PageTokens:
    tokens = current_app.extensions.get("dnp.ss12000_tokens")
    if tokens is None:
        tokens = current_app.extensions["dnp.ss12000_tokens"] = PageTokens(current_app.config["SECRET_KEY"])
    return tokens


@bp.before_request
def _authenticate():
    g.ss12000_started = time.perf_counter()
    try:
        g.ss12000_caller = _verifier().verify(request.headers.get("Authorization"))
    except AuthError as error:
        log.info("SS 12000 request refused: %s %s %s", request.method, request.path, error.code)
        response, status = json_error(error.status, error.message, error.code)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response, status
    if is_push(session=get_session()):
        # The organiser chose push: Skolverket gets the data through the Provisioning API instead.
        return json_error(
            403,
            "This organiser sends its data to Skolverket by push (Provisioning API); "
            "the SS 12000 API is closed while that transfer method is chosen.",
            "transfer_method_push",
        )
    request.max_content_length = SS12000_MAX_BODY


@bp.errorhandler(BadQuery)
def _bad_query(error: BadQuery):
    _record(400, 0)
    return json_error(400, str(error))


def _record(status: int, count: int) -> None:
    """Note the call (kept apart from the request's transaction, which may be rolled back)."""
    _recorder()(status, count)


def _recorder() -> Callable[[int, int], None]:
    """Notes this call when called, also once the request context is gone (a streamed answer)."""
    calls, caller, method, endpoint = _call_log(), g.get("ss12000_caller"), request.method, _endpoint()
    started = g.ss12000_started

    def record(status: int, count: int) -> None:
        calls.add(caller, method, endpoint, status, count, int((time.perf_counter() - started) * 1000))

    return record


def _endpoint() -> str:
    """The route without ids: ``/persons``, ``/persons/{id}``, ``/subscriptions/{id}``."""
    parts = request.path.removeprefix(bp.url_prefix).strip("/").split("/")
    return ("/" + parts[0] + ("/{id}" if len(parts) > 1 else ""))[:40]


def _settings() -> tuple[int, int]:
    config = current_app.config
    return int(config["SS12000_PAGE_DEFAULT"]), int(config["SS12000_PAGE_MAX"])


@bp.get(f"/<{KINDS}:kind>")
def list_entities(kind: str):
    """A page of published entities, streamed from their stored JSON."""
    default, maximum = _settings()
    page = page_request(RESOURCES[kind], request.args, _tokens(), default, maximum, LIST_FILTERS)
    record = _recorder()
    body = stream_page(
        get_engine(),
        page,
        _tokens(),
        # the spec's {"organisations": [...]} besides the code's "data"
        plain_copy=kind == "organisations",
        done=lambda finished, count: record(200 if finished else 499, count),
    )
    return Response(body, mimetype="application/json")


@bp.get(f"/<{KINDS}:kind>/<entity_id>")
def get_entity(kind: str, entity_id: str):
    """One published entity, or 404."""
    if not is_uuid(entity_id):
        raise BadQuery("the id must be a UUID")
    row = get_session().get(PublishedEntity, (RESOURCES[kind], entity_id))
    if row is None:
        _record(404, 0)
        return json_error(404, "Not found.")
    _record(200, 1)
    return Response(row.document, mimetype="application/json")


@bp.get("/deletedEntities")
def deleted_entities():
    """Ids of entities that left the publication, grouped by type."""
    default, maximum = _settings()
    page = page_request("deleted", request.args, _tokens(), default, maximum, DELETED_FILTERS)
    body, count = deleted_page(get_engine(), page, _tokens())
    _record(200, count)
    return jsonify(body)


def _json_body() -> object:
    try:
        return parse_json(request.get_data(cache=False) or b"null")
    except BadInput as error:
        raise BadQuery(str(error)) from None


def _caller_name() -> str:
    return g.ss12000_caller.subject or g.ss12000_caller.organization_id


@bp.post("/subscriptions")
def create_subscription():
    """Register a webhook subscription (one per target; registering again renews it)."""
    config = current_app.config
    session = get_session()
    try:
        subscription = subscriptions.create(
            _json_body(),
            _caller_name(),
            config["WEBHOOK_ALLOWED_TARGETS"],
            int(config["SUBSCRIPTION_DAYS"]),
            session=session,
        )
    except subscriptions.SubscriptionRejected as error:
        session.rollback()
        raise BadQuery(str(error)) from None
    session.commit()
    _record(201, 1)
    return jsonify(subscriptions.as_json(subscription)), 201


@bp.patch("/subscriptions/<subscription_id>")
def renew_subscription(subscription_id: str):
    """Renew a subscription: ``expires`` = now + DNP_SUBSCRIPTION_DAYS."""
    session = get_session()
    days = int(current_app.config["SUBSCRIPTION_DAYS"])
    subscription = subscriptions.renew(subscription_id, _caller_name(), days, session=session)
    if subscription is None:
        _record(404, 0)
        return json_error(404, "Subscription not found.")
    session.commit()
    _record(200, 1)
    return jsonify(subscriptions.as_json(subscription))


@bp.delete("/subscriptions/<subscription_id>")
def delete_subscription(subscription_id: str):
    """Remove a subscription; unknown ids too answer 204."""
    session = get_session()
    subscriptions.remove(subscription_id, _caller_name(), session=session)
    session.commit()
    _record(204, 0)
    return Response(status=204)


@bp.post("/log")
def post_log():
    """Store a LogEntry from Skolverket's client."""
    session = get_session()
    feedback.store_log(_json_body(), _caller_name(), session=session)
    session.commit()
    _record(201, 1)
    return jsonify(message="created"), 201


@bp.post("/statistics")
def post_statistics():
    """Store a StatisticsEntry from Skolverket's client."""
    session = get_session()
    feedback.store_statistics(_json_body(), _caller_name(), session=session)
    session.commit()
    _record(201, 1)
    return jsonify(message="created"), 201
