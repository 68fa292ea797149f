"""Request body limits, enforced before anything (CSRF, form parsing, SAML) reads the body."""

from __future__ import annotations

import io

from flask import Flask
from flask import current_app
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

# Views that take a file upload get DNP_UPLOAD_MAX_BYTES; every other page or SAML post gets
# DNP_FORM_MAX_BYTES.
UPLOAD_ENDPOINTS = frozenset({"connection.certificate"})
# The SS 12000 API's bodies (subscriptions, feedback) are small JSON; its blueprint applies this too.
SS12000_MAX_BODY = 1024 * 1024


def body_limit() -> tuple[int, bool]:
    """The largest body the current request may send, and whether to refuse a larger declared
    Content-Length here (False for the bearer-token APIs: they refuse it once the caller is known,
    so an anonymous caller still gets 401, and nothing reads their body before)."""
    config = current_app.config
    if request.path.startswith("/ingest/"):
        return int(config["INGEST_MAX_BYTES"]), False
    if request.path.startswith("/ss12000/"):
        return SS12000_MAX_BODY, False
    if request.endpoint in UPLOAD_ENDPOINTS:
        return int(config["UPLOAD_MAX_BYTES"]), True
    return int(config["FORM_MAX_BYTES"]), True


def _too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"Begäran får vara högst {limit // 1024} kB.")


class CappedInput(io.RawIOBase):
    """A streamed (chunked) body that raises 413 as soon as it passes ``limit`` bytes.

    Werkzeug's own cap for streams stops reading quietly at the limit, so a form would be parsed
    cut short instead of refused.
    """

    def __init__(self, stream, limit: int):
        self._stream = stream
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        """A WSGI input stream is readable."""
        return True

    def readinto(self, buffer) -> int:
        """Read the next part; 413 once more than the limit has arrived."""
        data = self._stream.read(min(len(buffer), self._limit + 1 - self._read))
        self._read += len(data)
        if self._read > self._limit:
            raise _too_large(self._limit)
        buffer[: len(data)] = data
        return len(data)


def _limit_body() -> None:
    limit, refuse_now = body_limit()
    if request.content_length is not None:
        if refuse_now:
            # Werkzeug also refuses to read past a declared length above the limit.
            request.max_content_length = limit
            if request.content_length > limit:
                raise _too_large(limit)
    elif "wsgi.input_terminated" in request.environ:
        # Chunked: the size is known only while reading, so the stream itself counts. Set as the
        # request's stream, so a limit set later (the APIs') does not wrap it in Werkzeug's quiet cap.
        stream = CappedInput(request.environ["wsgi.input"], limit)
        if refuse_now:
            # A page body is small: take it whole now, so a form parser is never cut off halfway
            # (with a spooled upload file left open) and the 413 comes before any parsing.
            request.stream = io.BytesIO(stream.read())
        else:
            request.stream = stream


def init_app(app: Flask) -> None:
    """Install the limit; call before extensions that read the body in ``before_request`` (CSRF)."""
    app.before_request(_limit_body)
