"""The ingest API for the school's SIS: POST creates, PUT upserts, DELETE removes."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import g
from flask import jsonify
from flask import request
from sqlalchemy.exc import DBAPIError

from dnp.common.request_input import BadInput
from dnp.common.request_input import parse_json
from dnp.common.request_input import unstorable_texts
from dnp.config import ingest_tokens
from dnp.db import get_session
from dnp.register.delete import delete_items
from dnp.register.ingest import ingest_items
from dnp.register.ingest import is_write_race
from dnp.register.ingest import unstorable_rejected
from dnp.register.results import KINDS
from dnp.register.results import IngestRejected
from dnp.register.results import IngestSummary
from dnp.routes.api_errors import json_error
from dnp.routes.api_errors import register_json_errors

log = logging.getLogger(__name__)
bp = Blueprint("ingest", __name__, url_prefix="/ingest")
# A request that met a parallel write of the same rows runs again; the second run sees the other's
# committed result, so more than one retry is only needed under a storm of writers.
WRITE_ATTEMPTS = 3
register_json_errors(bp)


@bp.before_request
def _authenticate():
    tokens = ingest_tokens(current_app.config.get("INGEST_TOKEN"))
    if not tokens:
        return json_error(403, "Ingest-API:t är avstängt (DNP_INGEST_TOKEN saknas).", "ingest_disabled")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return json_error(401, "Bearer-token saknas.")
    for token, name in tokens.items():
        if hmac.compare_digest(presented.encode(), token.encode()):
            g.ingest_actor = f"ingest:{name}"
            break
    else:
        return json_error(401, "Ogiltig token.")
    request.max_content_length = current_app.config["INGEST_MAX_BYTES"]


def _body(kind: str) -> list:
    """Parse ``{kind: [...]}``; anything else aborts with a JSON error."""
    if not request.mimetype or request.mimetype != "application/json":
        abort(415, "Content-Type ska vara application/json.")
    try:
        body = parse_json(request.get_data(cache=False), check_text=False)
    except BadInput as exc:
        abort(400, f"Felaktig JSON: {exc}")
    if bad := unstorable_texts(body):
        raise unstorable_rejected(kind, body, bad)
    if not isinstance(body, dict):
        abort(400, f"Kroppen ska vara ett objekt med nyckeln {kind!r}.")
    unknown = sorted(set(body) - {kind})
    if unknown:
        abort(400, f"Okända nycklar {unknown}; denna adress tar bara emot {kind!r}.")
    items = body.get(kind)
    if not isinstance(items, list) or not items:
        abort(400, f"{kind!r} ska vara en lista med minst ett element.")
    return items


def _rejected(error: IngestRejected):
    status = 409 if error.is_conflict else 400
    message = f"Inget sparades: {error.total} problem i indata."
    return json_error(
        status,
        message,
        "conflict" if status == 409 else "validation_failed",
        errors=[problem.as_dict() for problem in error.problems],
        errorCount=error.total,
    )


@bp.route("/<kind>", methods=["POST", "PUT", "DELETE"])
def write(kind: str):
    """Create (POST), upsert (PUT) or delete (DELETE) organisations, persons, duties or groups."""
    if kind not in KINDS:
        abort(404, f"Okänd resurstyp {kind!r}; giltiga: {', '.join(KINDS)}.")
    try:
        items = _body(kind)
    except IngestRejected as error:
        return _rejected(error)
    session = get_session()
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            summary = _apply(session, kind, items)
            session.commit()
            break
        except IngestRejected as error:
            session.rollback()
            return _rejected(error)
        except DBAPIError as error:
            session.rollback()
            if not is_write_race(error):
                raise
            # A parallel request wrote the same rows (a SIS retrying): run again, and this request is
            # answered as if it had come second – POST 409, PUT 201 – never a 500. No values logged.
            log.info(
                "ingest %s %s: parallel write (%s), attempt %d",
                request.method,
                kind,
                type(error).__name__,
                attempt,
            )
    else:
        return json_error(409, "Registret ändrades samtidigt av en annan begäran. Försök igen.", "conflict")
    if request.method == "DELETE":
        return jsonify(message="Accepted", deleted=summary.changed_ids[kind], notFound=summary.not_found), 202
    ids = [item["id"] for item in items]
    return jsonify(ids=ids, **summary.as_dict()), 201


def _apply(session, kind: str, items: list) -> IngestSummary:
    if request.method == "DELETE":
        return delete_items(kind, items, g.ingest_actor, session=session)
    mode = "create" if request.method == "POST" else "upsert"
    return ingest_items(kind, items, g.ingest_actor, mode, session=session)
