"""Our webhook token: GNAP grant over mutual TLS, caching, renewal, and operator-readable failures."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time

import pytest
from cryptography.hazmat.primitives import serialization

from dnp.connection.certificates import generate_client_certificate
from dnp.connection.token import TokenClient
from dnp.connection.token import TokenError
from tests.fakes.auth_server import OUR_ENTITY_ID
from tests.fakes.auth_server import OUR_ORGANIZATION_ID

LOCATION = "https://api.skolverket.se/provtjanst/ss12000/klient/v1"


@pytest.fixture
def client_cert(auth_server, tmp_path):
    return auth_server.make_client_cert(tmp_path)


def make_client(auth_server, client_cert, clock=None, **overrides) -> TokenClient:
    settings = {
        "auth_server_url": auth_server.transaction_url,
        "location": LOCATION,
        "tls_client_cert": str(client_cert.cert_path),
        "tls_client_key": str(client_cert.key_path),
        "ca_bundle": str(auth_server.ca_bundle_path),
        "auth_client_key": OUR_ENTITY_ID,
        "clock": clock or time.time,
    }
    settings.update(overrides)
    return TokenClient(**settings)


def failure(client: TokenClient) -> TokenError:
    """The TokenError get_token() raises, after checking it reads well in both languages."""
    with pytest.raises(TokenError) as info:
        client.get_token()
    error = info.value
    assert str(error) == error.message
    assert error.message_sv and error.message_sv != error.message
    assert "PRIVATE KEY" not in error.message
    return error


def transactions(auth_server):
    return [r for r in auth_server.requests if r.path == "/transaction"]


# -- getting a token ----------------------------------------------------------------------------


def test_token_is_fetched_with_the_registered_certificate(auth_server, client_cert):
    token = make_client(auth_server, client_cert).get_token()
    claims = auth_server.decode(token)
    assert claims["entity_id"] == OUR_ENTITY_ID
    assert claims["organization_id"] == OUR_ORGANIZATION_ID
    assert claims["requested_access"] == [{"type": "ss12000-client", "locations": [LOCATION]}]
    (request,) = transactions(auth_server)
    assert request.client_cert_pin == client_cert.spki_pin


def test_request_body_is_exactly_the_documented_one(auth_server, client_cert):
    make_client(auth_server, client_cert).get_token()
    (request,) = transactions(auth_server)
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {
        "access_token": [
            {"access": [{"type": "ss12000-client", "locations": [LOCATION]}], "flags": ["bearer"]}
        ],
        "client": {"key": OUR_ENTITY_ID},
    }


def test_without_client_key_the_cert_s256_proof_is_sent(auth_server, client_cert):
    token = make_client(auth_server, client_cert, auth_client_key=None).get_token()
    der = client_cert.cert.public_bytes(serialization.Encoding.DER)
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    (request,) = transactions(auth_server)
    assert request.body["client"] == {"key": {"proof": "mtls", "cert#S256": thumbprint}}
    assert "=" not in thumbprint and "+" not in thumbprint and "/" not in thumbprint
    assert auth_server.decode(token)["entity_id"] == OUR_ENTITY_ID


def test_a_generated_and_registered_certificate_works(auth_server, tmp_path):
    generated = generate_client_certificate(
        organization="Öckerö kommun", organization_id="SE2120001234", common_name="DNP notifierare"
    )
    generated.write(tmp_path / "dnp.pem", tmp_path / "dnp.key")
    auth_server.register_client(generated.cert_pem, "https://dnp.ockero.example", "SE2120001234")
    client = TokenClient(
        auth_server_url=auth_server.transaction_url,
        location=LOCATION,
        tls_client_cert=str(tmp_path / "dnp.pem"),
        tls_client_key=str(tmp_path / "dnp.key"),
        ca_bundle=str(auth_server.ca_bundle_path),
        auth_client_key="https://dnp.ockero.example",
    )
    assert auth_server.decode(client.get_token())["sub"] == "https://dnp.ockero.example"


def test_from_config_reads_the_dnp_keys():
    client = TokenClient.from_config(
        {
            "AUTH_SERVER_URL": "https://as.example/transaction",
            "WEBHOOK_CLIENT_LOCATION": LOCATION,
            "TLS_CLIENT_CERT": "/etc/dnp/client.pem",
            "TLS_CLIENT_KEY": "/etc/dnp/client.key",
            "TLS_CA_BUNDLE": None,
            "AUTH_CLIENT_KEY": "https://dnp.example",
        }
    )
    assert client.request_body()["client"] == {"key": "https://dnp.example"}
    assert (client.auth_server_url, client.tls_client_key, client.timeout) == (
        "https://as.example/transaction",
        "/etc/dnp/client.key",
        10.0,
    )


# -- caching and renewal --------------------------------------------------------------------------


def test_token_is_cached(auth_server, client_cert):
    client = make_client(auth_server, client_cert)
    assert client.get_token() == client.get_token()
    assert len(transactions(auth_server)) == 1


def test_token_is_renewed_after_90_percent_of_expires_in(auth_server, client_cert, clock):
    auth_server.expires_in = 1000
    client = make_client(auth_server, client_cert, clock)
    first = client.get_token()
    clock.advance(899)
    assert client.get_token() == first
    assert len(transactions(auth_server)) == 1
    clock.advance(2)
    second = client.get_token()
    assert len(transactions(auth_server)) == 2
    assert second != first


def test_shorter_jwt_exp_wins_over_expires_in(auth_server, client_cert, clock):
    # nutid's own example: expires_in 864000 but a JWT valid for 10 h.
    auth_server.token_lifetime, auth_server.expires_in = 100, 864000
    client = make_client(auth_server, client_cert, clock)
    client.get_token()
    clock.advance(89)
    client.get_token()
    assert len(transactions(auth_server)) == 1
    clock.advance(2)
    client.get_token()
    assert len(transactions(auth_server)) == 2


def test_without_expires_in_the_jwt_exp_is_used(auth_server, client_cert, clock):
    auth_server.token_lifetime, auth_server.expires_in = 1000, None
    client = make_client(auth_server, client_cert, clock)
    client.get_token()
    clock.advance(880)
    client.get_token()
    assert len(transactions(auth_server)) == 1
    clock.advance(21)
    client.get_token()
    assert len(transactions(auth_server)) == 2


def test_invalidate_forces_a_new_token(auth_server, client_cert):
    client = make_client(auth_server, client_cert)
    first = client.get_token()
    client.invalidate()
    client.get_token()
    assert len(transactions(auth_server)) == 2
    # A late invalidate() for the old token must not throw away the fresh one.
    client.invalidate(first)
    client.get_token()
    assert len(transactions(auth_server)) == 2
    client.invalidate(client.get_token())
    client.get_token()
    assert len(transactions(auth_server)) == 3


def test_concurrent_callers_share_one_request(auth_server, client_cert):
    client = make_client(auth_server, client_cert)
    barrier = threading.Barrier(10)
    tokens: list[str] = []

    def call():
        barrier.wait()
        tokens.append(client.get_token())

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 10 and len(set(tokens)) == 1
    assert len(transactions(auth_server)) == 1


# -- configuration problems -----------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["tls_client_cert", "tls_client_key"])
def test_no_client_certificate_configured(auth_server, client_cert, missing):
    error = failure(make_client(auth_server, client_cert, **{missing: None}))
    assert error.code == "no_client_certificate"
    assert "no client certificate configured" in error.message
    assert "DNP_TLS_CLIENT_CERT" in error.message and "klientcertifikat" in error.message_sv
    assert auth_server.count() == 0


@pytest.mark.parametrize(
    ("setting", "label"), [("tls_client_cert", "certificate"), ("tls_client_key", "key")]
)
def test_unreadable_certificate_file(auth_server, client_cert, tmp_path, setting, label):
    missing = tmp_path / "nope.pem"
    error = failure(make_client(auth_server, client_cert, **{setting: str(missing)}))
    assert error.code == "certificate_unreadable"
    assert f"client {label} file {missing} cannot be read" in error.message
    assert "No such file" in error.message
    assert auth_server.count() == 0


def test_certificate_file_that_is_not_pem(auth_server, client_cert, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not a certificate")
    error = failure(make_client(auth_server, client_cert, tls_client_cert=str(garbage)))
    assert error.code == "certificate_unreadable"
    assert "are not PEM" in error.message


def test_key_that_does_not_match_the_certificate(auth_server, client_cert, tmp_path):
    other = auth_server.make_client_cert(tmp_path / "other", name="other")
    error = failure(make_client(auth_server, client_cert, tls_client_key=str(other.key_path)))
    assert error.code == "certificate_unreadable"
    assert "do not belong together" in error.message and "hör inte ihop" in error.message_sv


def test_unreadable_ca_bundle(auth_server, client_cert, tmp_path):
    error = failure(make_client(auth_server, client_cert, ca_bundle=str(tmp_path / "missing-ca.pem")))
    assert error.code == "ca_bundle_unreadable"
    assert "DNP_TLS_CA_BUNDLE" in error.message


# -- refusals -------------------------------------------------------------------------------------


def test_unregistered_certificate_is_refused(auth_server, tmp_path):
    unregistered = auth_server.make_client_cert(tmp_path, registered=False)
    error = failure(make_client(auth_server, unregistered))
    assert error.code == "refused"
    assert "HTTP 401 request_denied" in error.message
    assert "registered in Moa" in error.message
    assert "client certificate not registered" in error.message  # the server's own description


def test_certificate_the_server_does_not_accept_in_the_handshake(auth_server, tmp_path):
    stranger = auth_server.make_client_cert(tmp_path, registered=False, trusted=False)
    error = failure(make_client(auth_server, stranger))
    assert error.code == "handshake_refused"
    assert "refused the TLS handshake" in error.message
    assert str(stranger.cert_path) in error.message


def test_certificate_registered_for_another_entity_is_refused(auth_server, client_cert):
    error = failure(make_client(auth_server, client_cert, auth_client_key="https://someone-else.example"))
    assert error.code == "refused"
    assert "request_denied" in error.message


# -- the auth server misbehaving ------------------------------------------------------------------


def test_untrusted_server_certificate(auth_server, client_cert):
    error = failure(
        make_client(auth_server, client_cert, ca_bundle=str(auth_server.pki.rogue_ca_bundle_path))
    )
    assert error.code == "server_untrusted"
    assert "not trusted" in error.message and "DNP_TLS_CA_BUNDLE" in error.message
    assert len(transactions(auth_server)) == 0


def test_server_presenting_a_foreign_certificate(auth_server, client_cert):
    auth_server.serve_untrusted_certificate = True
    error = failure(make_client(auth_server, client_cert))
    assert error.code == "server_untrusted"
    assert len(transactions(auth_server)) == 0


def test_server_down(auth_server, client_cert):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"https://127.0.0.1:{port}/transaction"
    error = failure(make_client(auth_server, client_cert, auth_server_url=url))
    assert error.code == "unreachable"
    assert url in error.message and "cannot be reached" in error.message


def test_hanging_server_times_out(auth_server, client_cert):
    auth_server.transaction_mode = "hang"
    started = time.monotonic()
    error = failure(make_client(auth_server, client_cert, timeout=0.3))
    assert time.monotonic() - started < 3
    assert error.code == "timeout"
    assert "did not answer within 0.3 s" in error.message


def test_server_error(auth_server, client_cert):
    auth_server.transaction_mode = "error"
    error = failure(make_client(auth_server, client_cert))
    assert error.code == "server_error"
    assert "HTTP 500" in error.message and "try again later" in error.message


def test_unparseable_answer(auth_server, client_cert):
    auth_server.transaction_mode = "invalid_json"
    error = failure(make_client(auth_server, client_cert))
    assert error.code == "bad_response"
    assert "no access token" in error.message


def test_redirects_are_not_followed(auth_server, client_cert):
    auth_server.transaction_mode = "redirect"
    error = failure(make_client(auth_server, client_cert))
    assert error.code == "bad_response"
    assert "HTTP 302" in error.message and "DNP_AUTH_SERVER_URL" in error.message
    assert auth_server.count("/elsewhere") == 0


def test_wrong_endpoint_is_reported_with_the_status(auth_server, client_cert):
    error = failure(make_client(auth_server, client_cert, auth_server_url=auth_server.url + "/tx"))
    assert error.code == "refused"
    assert "HTTP 404 not_found" in error.message


def test_failure_is_not_cached(auth_server, client_cert):
    auth_server.transaction_mode = "error"
    client = make_client(auth_server, client_cert)
    failure(client)
    auth_server.transaction_mode = "ok"
    assert auth_server.decode(client.get_token())["entity_id"] == OUR_ENTITY_ID
