"""Body limits: too large is 413 before the body is read, on pages, SAML, uploads and the APIs."""

from __future__ import annotations

import io

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.test import run_wsgi_app

from tests.helpers import INGEST_TOKEN
from tests.helpers import csrf_token
from tests.helpers import signed_in

BIG = 200 * 1024 * 1024
FORM = "application/x-www-form-urlencoded"


class Untouchable(io.RawIOBase):
    """A request body that must not be read (a real one would block a worker for seconds)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read")


class Endless(io.RawIOBase):
    """A chunked body far larger than any limit (it ends, so a reader without a limit fails the test
    instead of hanging it); counts what was read."""

    def __init__(self, prefix: bytes = b"a="):
        self.read_bytes = 0
        self.prefix = prefix

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), 64 * 1024 * 1024 - self.read_bytes)
        chunk = (self.prefix + b"x" * size)[:size] if self.read_bytes == 0 else b"x" * size
        buffer[:size] = chunk
        self.read_bytes += size
        return size


def _post(client, path: str, stream, size: int | None, content_type: str, headers=None):
    """POST ``stream`` as the body straight to the WSGI app: with Content-Length ``size``, or chunked
    (``size`` None, as a server hands a chunked body on). The client's cookies are sent along."""
    environ = EnvironBuilder(path=path, method="POST", headers=headers or {}).get_environ()
    environ["wsgi.input"] = stream
    environ["CONTENT_TYPE"] = content_type
    environ.pop("CONTENT_LENGTH", None)
    if size is None:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(size)
    cookie = client.get_cookie("dnp_session")
    if cookie is not None:
        environ["HTTP_COOKIE"] = f"dnp_session={cookie.value}"
    app_iter, status, response_headers = run_wsgi_app(client.application, environ, buffered=True)
    return client.application.response_class(app_iter, status, response_headers)


def _declared(client, path: str, size: int = BIG, content_type: str = FORM, headers=None):
    """A POST that declares ``size`` bytes but whose body may not be touched."""
    return _post(client, path, Untouchable(), size, content_type, headers)


def _chunked(client, path: str, body: Endless, content_type: str = FORM, headers=None):
    """A chunked POST (no Content-Length) whose body never ends."""
    return _post(client, path, body, None, content_type, headers)


def _assert_swedish_413(response) -> None:
    assert response.status_code == 413
    text = response.get_data(as_text=True)
    assert "För stor begäran" in text and "<html" in text.lower()


PAGES = ["/auth/logout", "/saml/acs", "/provgrupper/katalog", "/auth/dev-login", "/no/such/page"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_large_posts_to_pages_and_saml_are_413_unread(saml_app, client, path):
    _assert_swedish_413(_declared(client, path))


@pytest.mark.parametrize("path", PAGES[:-1])
def test_chunked_posts_to_pages_stop_at_the_limit(saml_app, client, path):
    body = Endless()
    _assert_swedish_413(_chunked(client, path, body))
    assert body.read_bytes <= saml_app.config["FORM_MAX_BYTES"] + 64 * 1024


def test_limits_come_from_the_configuration(app, client):
    app.config["FORM_MAX_BYTES"] = 1000
    _assert_swedish_413(_declared(client, "/auth/logout", size=1001))
    # Within the limit the form is read as before (here: refused for its missing CSRF token).
    response = client.post("/auth/logout", data={"x": "y" * 500})
    assert response.status_code == 400


def test_certificate_upload_has_its_own_bounded_limit(app, client):
    signed_in(client, app, "central@skola.se", "central_admin")
    path = "/installningar/skolverket/certifikat"
    headers = {"X-CSRFToken": csrf_token(client)}
    _assert_swedish_413(_declared(client, path, headers=headers))
    over = app.config["UPLOAD_MAX_BYTES"] + 1
    _assert_swedish_413(_declared(client, path, size=over, content_type="multipart/form-data; boundary=x"))
    body = Endless(b"--x\r\n")
    _assert_swedish_413(_chunked(client, path, body, "multipart/form-data; boundary=x", headers))
    assert body.read_bytes <= app.config["UPLOAD_MAX_BYTES"] + 64 * 1024
    # A real upload larger than a form but within the upload limit is read (and judged on content).
    filler = b"-" * (app.config["FORM_MAX_BYTES"] + 1024)
    body = (
        b'--x\r\nContent-Disposition: form-data; name="cert_file"; filename="cert.pem"\r\n\r\n'
        + filler
        + b'\r\n--x\r\nContent-Disposition: form-data; name="key_pem"\r\n\r\nx\r\n--x--\r\n'
    )
    response = client.post(path, data=body, headers=headers, content_type="multipart/form-data; boundary=x")
    assert response.status_code == 422
    assert "certifikat" in response.get_data(as_text=True).lower()


def test_ingest_keeps_its_own_limit_and_answers_json(app, client):
    auth = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    response = _declared(client, "/ingest/persons", content_type="application/json", headers=auth)
    assert response.status_code == 413 and response.get_json()["code"] == "payload_too_large"
    body = Endless(b'{"persons": ["')
    response = _chunked(client, "/ingest/persons", body, "application/json", auth)
    assert response.status_code == 413 and response.get_json()["code"] == "payload_too_large"
    assert body.read_bytes <= app.config["INGEST_MAX_BYTES"] + 64 * 1024
    # Anonymous: refused for the missing token, without reading.
    assert _declared(client, "/ingest/persons", content_type="application/json").status_code == 401


def test_ss12000_large_body_is_json_413_unread(api):
    headers = {"Authorization": f"Bearer {api.token}"}
    response = _declared(api.client, "/ss12000/log", content_type="application/json", headers=headers)
    assert response.status_code == 413 and response.get_json()["code"] == "payload_too_large"
    body = Endless(b'[{"message": "')
    response = _chunked(api.client, "/ss12000/log", body, "application/json", headers)
    assert response.status_code == 413 and response.get_json()["code"] == "payload_too_large"
    assert body.read_bytes <= 1024 * 1024 + 64 * 1024
    anonymous = _declared(api.client, "/ss12000/log", content_type="application/json")
    assert anonymous.status_code == 401
