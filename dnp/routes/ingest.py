"""The ingest API for the school's SIS: POST creates, PUT upserts, DELETE removes."""

from __future__ import annotations

import hmac

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import g
from flask import jsonify
from flask import request

from dnp.config import ingest_tokens
from dnp.db import get_session
from dnp.routes.api_errors import json_error
from dnp.routes.api_errors import register_json_errors
from dnp.services.ingest import KINDS
from dnp.services.ingest import IngestRejected
from dnp.services.ingest import ingest_items
from dnp.services.ingest import unstorable_rejected
from dnp.services.register_delete import delete_items
from dnp.services.request_input import BadInput
from dnp.services.request_input import parse_json
from dnp.services.request_input import unstorable_texts

bp = Blueprint("ingest", __name__, url_prefix="/ingest")
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
    session = get_session()
    try:
        items = _body(kind)
        if request.method == "DELETE":
            summary = delete_items(session, kind, items, g.ingest_actor)
        else:
            mode = "create" if request.method == "POST" else "upsert"
            summary = ingest_items(session, kind, items, g.ingest_actor, mode)
    except IngestRejected as error:
        session.rollback()
        return _rejected(error)
    session.commit()
    if request.method == "DELETE":
        return jsonify(message="Accepted", deleted=summary.changed_ids[kind], notFound=summary.not_found), 202
    ids = [item["id"] for item in items]
    return jsonify(ids=ids, **summary.as_dict()), 201
