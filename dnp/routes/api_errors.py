"""JSON errors ``{"code", "message"}`` for the bearer-token APIs."""

from __future__ import annotations

from flask import Blueprint
from flask import jsonify
from werkzeug.exceptions import HTTPException

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
    503: "unavailable",
}


def json_error(status: int, message: str, code: str | None = None, **extra):
    """A JSON error response."""
    body = {"code": code or CODES.get(status, "error"), "message": message, **extra}
    return jsonify(body), status


def register_json_errors(bp: Blueprint) -> None:
    """Make every HTTP error raised inside ``bp`` a JSON error."""

    @bp.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        response = json_error(error.code or 500, error.description or error.name)
        if error.code == 405 and error.valid_methods:
            response[0].headers["Allow"] = ", ".join(error.valid_methods)
        return response
