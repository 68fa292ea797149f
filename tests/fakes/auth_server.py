"""A local fake of Sunet's nutid auth server: JWKS, ES256 tokens, and GNAP ``/transaction`` over mTLS.

It is a real HTTPS server on 127.0.0.1 (random port, own thread) with a certificate from the test run's
``trustme`` CA (``tests.helpers.shared_ca``), so code under test does real TLS, real client-certificate
authentication and real JWKS fetching. It is built only on the standard library, ``cryptography``,
``trustme`` and ``tests.helpers`` -- never on the DNP modules it is used to test -- so a bug there cannot
hide behind the same bug here. Shapes follow
``research/auth.md`` §2.3-2.5 (Sunet's ``sunet-auth-server`` and Skolverket's documentation).

Knobs (plain attributes, change them at any time):

* ``jwks_mode``: ``"ok"``, ``"error"`` (HTTP 500), ``"invalid"`` (200 with a body that is no JWKS),
  ``"down"`` (connection closed without an answer);
* ``transaction_mode``: ``"ok"``, ``"error"`` (HTTP 500), ``"hang"`` (no answer until ``stop()``),
  ``"invalid_json"`` (200 with HTML), ``"redirect"`` (302 to ``/elsewhere``, which issues tokens too);
* ``serve_untrusted_certificate``: present a server certificate from a CA nobody trusts;
* ``token_lifetime`` (JWT ``exp - iat``) and ``expires_in`` (GNAP field; ``None`` leaves it out).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from tests.helpers import key_pem
from tests.helpers import self_signed
from tests.helpers import shared_ca

AUDIENCE = "nutid"
SKOLVERKET_ORGANIZATION_ID = "SE2021004185"
SKOLVERKET_CLIENT = "https://api.skolverket.se/provtjanst/ss12000/klient/v1"
METADATA_SOURCE = "https://fake.kontosynk.example"
# The SS 12000 API location tokens from issue() grant by default (what DNP_SS12000_LOCATION would be).
API_LOCATION = "https://dnp.testkommun.example/ss12000/v2.0"
OUR_ENTITY_ID = "https://dnp.testkommun.example"
OUR_ORGANIZATION_ID = "SE2120001234"


def b64url(data: bytes) -> str:
    """Base64url without padding (JOSE)."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def spki_pin(cert: x509.Certificate) -> str:
    """RFC 7469 SPKI pin (base64 SHA-256), as Moa registers client certificates."""
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


def cert_s256(cert: x509.Certificate) -> str:
    """RFC 8705 thumbprint of the whole certificate (base64url, no padding)."""
    return b64url(cert.fingerprint(hashes.SHA256()))


@dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: object
    client_cert_pin: str | None


@dataclass(frozen=True)
class ClientCertFiles:
    """A client certificate and key written to PEM files."""

    cert_path: Path
    key_path: Path
    cert: x509.Certificate
    entity_id: str
    spki_pin: str


@dataclass(frozen=True)
class _Client:
    entity_id: str
    organization_id: str


class FakePki:
    """A trusted CA with a server certificate for 127.0.0.1, and a rogue CA nobody trusts."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        ca = shared_ca()
        ca.cert_pem.write_to_path(str(directory / "ca.pem"))
        ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
            str(directory / "server.pem")
        )
        rogue = trustme.CA(organization_name="Rogue CA")  # a second CA on purpose: nobody trusts it
        rogue.cert_pem.write_to_path(str(directory / "rogue-ca.pem"))
        rogue.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
            str(directory / "rogue-server.pem")
        )
        self.ca_bundle_path = directory / "ca.pem"
        self.rogue_ca_bundle_path = directory / "rogue-ca.pem"
        self.server_pem = directory / "server.pem"
        self.rogue_server_pem = directory / "rogue-server.pem"


class FakeAuthServer:
    """Sunet's nutid auth server, on loopback. Use as a context manager or call start()/stop()."""

    def __init__(self, directory: Path, pki: FakePki | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pki = pki or FakePki(self.directory / "pki")
        self.audience = AUDIENCE
        self.jwks_mode = "ok"
        self.transaction_mode = "ok"
        self.serve_untrusted_certificate = False
        self.token_lifetime = 36000
        self.expires_in: int | None = 864000
        self.extra_jwks: list[dict] = []
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._clients: dict[str, _Client] = {}
        self._client_pems: list[str] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self.current_kid = self.add_key("nutid_auth_test_1")

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeAuthServer:
        """Listen on a random 127.0.0.1 port in a background thread."""
        self._contexts = {
            False: self._tls_context(self.pki.server_pem),
            True: self._tls_context(self.pki.rogue_server_pem),
        }
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        thread.start()
        return self

    def stop(self) -> None:
        """Release hanging requests and shut the server down."""
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeAuthServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. https://127.0.0.1:41234 (also the ``iss`` of its tokens)."""
        assert self._httpd is not None, "start() the fake first"
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def issuer(self) -> str:
        """The ``iss`` claim of every token the fake issues."""
        return self.url

    @property
    def jwks_url(self) -> str:
        """Where the public keys are."""
        return self.url + "/.well-known/jwks.json"

    @property
    def transaction_url(self) -> str:
        """The GNAP grant endpoint."""
        return self.url + "/transaction"

    @property
    def ca_bundle_path(self) -> Path:
        """PEM file of the CA that signed the server certificate (what DNP_TLS_CA_BUNDLE points at)."""
        return self.pki.ca_bundle_path

    def count(self, path: str | None = None, method: str | None = None) -> int:
        """How many requests arrived (for a path and method)."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (path is None or r.path == path) and (method is None or r.method == method)
            )

    # -- signing keys -------------------------------------------------------------------------

    def add_key(self, kid: str | None = None, make_current: bool = True) -> str:
        """Add an ES256 signing key to the JWKS; by default tokens are signed with it from now on."""
        kid = kid or f"nutid_auth_test_{len(self._keys) + 1}_{uuid.uuid4().hex[:6]}"
        self._keys[kid] = ec.generate_private_key(ec.SECP256R1())
        if make_current:
            self.current_kid = kid
        return kid

    def drop_key(self, kid: str) -> None:
        """Remove a key from the JWKS (the last step of a rotation)."""
        del self._keys[kid]

    def public_key_pem(self, kid: str | None = None) -> bytes:
        """PEM of a public key, e.g. to try it as an HMAC secret (algorithm confusion)."""
        key = self._keys[kid or self.current_kid].public_key()
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwks(self) -> dict:
        """The JWKS document, shaped like nutid's (no ``alg``/``use`` members)."""
        keys = []
        for kid, key in self._keys.items():
            numbers = key.public_key().public_numbers()
            keys.append(
                {
                    "kty": "EC",
                    "kid": kid,
                    "crv": "P-256",
                    "x": b64url(numbers.x.to_bytes(32, "big")),
                    "y": b64url(numbers.y.to_bytes(32, "big")),
                }
            )
        return {"keys": keys + list(self.extra_jwks)}

    # -- tokens -------------------------------------------------------------------------------

    def claims(self, *, location: str = API_LOCATION, lifetime: int = 3600, **overrides) -> dict:
        """Claims of a token for Skolverket's SS 12000 client calling our API (auth.md §2.3)."""
        now = int(time.time())
        claims = {
            "aud": self.audience,
            "auth_source": "tlsfed",
            "entity_id": SKOLVERKET_CLIENT,
            "sub": SKOLVERKET_CLIENT,
            "exp": now + lifetime,
            "iat": now,
            "nbf": now,
            "iss": self.issuer,
            "organization_id": SKOLVERKET_ORGANIZATION_ID,
            "requested_access": [{"type": "ss12000-api", "scope": "read", "locations": [location]}],
            "source": METADATA_SOURCE,
            "version": 1,
        }
        claims.update(overrides)
        return claims

    def issue(
        self,
        *,
        kid: str | None = None,
        alg: str = "ES256",
        key: object = None,
        headers: dict | None = None,
        omit: tuple[str, ...] = (),
        location: str = API_LOCATION,
        lifetime: int = 3600,
        **overrides,
    ) -> str:
        """A signed token with realistic claims; keyword arguments replace claims, ``omit`` drops them.

        ``alg`` may be ES256 (default key: the one named by ``kid``, else the current one), RS256
        (``key`` an RSA private key; a fresh one by default), HS256 (``key`` the secret bytes) or
        ``none``. ``kid`` may name a key the JWKS does not have.
        """
        claims = self.claims(location=location, lifetime=lifetime, **overrides)
        for name in omit:
            claims.pop(name, None)
        return self.sign(claims, kid=kid, alg=alg, key=key, headers=headers)

    def sign(
        self,
        claims: dict,
        *,
        kid: str | None = None,
        alg: str = "ES256",
        key: object = None,
        headers: dict | None = None,
    ) -> str:
        """Compact JWS of ``claims``, built by hand so the fake does not share code with PyJWT."""
        kid = self.current_kid if kid is None else kid
        header = {"alg": alg, "kid": kid, **(headers or {})}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        ).encode("ascii")
        if alg == "ES256":
            private = key or self._keys.get(kid) or self._keys[self.current_kid]
            r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        elif alg == "RS256":
            private = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
            signature = private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "HS256":
            signature = hmac.new(key, signing_input, hashlib.sha256).digest()
        elif alg == "none":
            signature = b""
        else:
            raise ValueError(f"the fake cannot sign {alg}")
        return signing_input.decode("ascii") + "." + b64url(signature)

    def decode(self, token: str) -> dict:
        """Claims of a token after checking its ES256 signature against the fake's keys."""
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_unb64url(header_b64))
        public = self._keys[header["kid"]].public_key()
        raw = _unb64url(signature_b64)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public.verify(der, f"{header_b64}.{payload_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        return json.loads(_unb64url(payload_b64))

    # -- client certificates (Moa registration) -----------------------------------------------

    def make_client_cert(
        self,
        directory: Path | None = None,
        *,
        registered: bool = True,
        trusted: bool = True,
        entity_id: str = OUR_ENTITY_ID,
        organization_id: str = OUR_ORGANIZATION_ID,
        name: str = "client",
    ) -> ClientCertFiles:
        """Write a self-signed EC client certificate and key.

        ``registered``: known by SPKI pin for ``entity_id`` (as Moa metadata would make it).
        ``trusted``: accepted in the TLS handshake at all; an untrusted one makes the server abort
        the handshake, like a proxy that only lets known certificates through.
        """
        directory = Path(directory or self.directory)
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Testkommun"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name} {uuid.uuid4().hex[:8]}"),
            ]
        )
        cert = self_signed(key, subject, days=366, end_entity=True)
        stem = f"{name}-{uuid.uuid4().hex[:8]}"  # several certificates may share a directory
        cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key_pem(key))
        if trusted:
            self.trust_client_cert(cert.public_bytes(serialization.Encoding.PEM))
        if registered:
            self.register_client(cert.public_bytes(serialization.Encoding.PEM), entity_id, organization_id)
        return ClientCertFiles(cert_path, key_path, cert, entity_id, spki_pin(cert))

    def register_client(
        self, cert_pem: bytes, entity_id: str = OUR_ENTITY_ID, organization_id: str = OUR_ORGANIZATION_ID
    ) -> str:
        """Register a client certificate by SPKI pin for an entity (and trust it); returns the pin."""
        cert = x509.load_pem_x509_certificate(cert_pem)
        self.trust_client_cert(cert_pem)
        pin = spki_pin(cert)
        with self._lock:
            self._clients[pin] = _Client(entity_id, organization_id)
        return pin

    def trust_client_cert(self, cert_pem: bytes) -> None:
        """Let a certificate through the TLS handshake (registered or not)."""
        pem = cert_pem.decode("ascii") if isinstance(cert_pem, bytes) else cert_pem
        with self._lock:
            self._client_pems.append(pem)
            for context in self._contexts.values():
                context.load_verify_locations(cadata=pem)

    # -- internals ----------------------------------------------------------------------------

    def _tls_context(self, server_pem: Path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(server_pem))
        # JWKS is public; /transaction insists on a certificate itself, as nutid's app does.
        context.verify_mode = ssl.CERT_OPTIONAL
        for pem in self._client_pems:
            context.load_verify_locations(cadata=pem)
        return context

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _transaction(self, body: object, peer: x509.Certificate | None) -> tuple[int, object]:
        if peer is None:
            return 401, _error("request_denied", "no client certificate")
        if not isinstance(body, dict) or not isinstance(body.get("client"), dict):
            return 400, _error("invalid_request", "client is required")
        requests = body.get("access_token")
        if isinstance(requests, list) and len(requests) == 1:
            requests = requests[0]
        if not isinstance(requests, dict) or "bearer" not in (requests.get("flags") or []):
            return 400, _error("invalid_request", "only bearer tokens are issued")
        access = requests.get("access", [])
        if not isinstance(access, list) or not all(isinstance(a, dict) and "type" in a for a in access):
            return 400, _error("invalid_request", "access must be a list of access objects")
        with self._lock:
            client = self._clients.get(spki_pin(peer))
        key = body["client"].get("key")
        if client is None:
            return 401, _error("request_denied", "client certificate not registered")
        if isinstance(key, str):
            if key != client.entity_id:
                return 401, _error("request_denied", "certificate not registered for that entity")
        elif isinstance(key, dict):
            if key.get("proof") != "mtls" or key.get("cert#S256") != cert_s256(peer):
                return 401, _error("request_denied", "mtls proof does not match the client certificate")
        else:
            return 400, _error("invalid_request", "client.key must be an entity id or a key object")
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client.entity_id,
            "exp": now + self.token_lifetime,
            "nbf": now,
            "iat": now,
            "version": 1,
            "auth_source": "tlsfed",
            "requested_access": access,
            "entity_id": client.entity_id,
            "organization_id": client.organization_id,
            "source": METADATA_SOURCE,
        }
        grant = {"value": self.sign(claims), "access": access, "flags": ["bearer"]}
        if self.expires_in is not None:
            grant["expires_in"] = self.expires_in
        return 200, {"access_token": grant}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeAuthServer

    def get_request(self):
        sock, address = self.socket.accept()
        # Wrap per connection so serve_untrusted_certificate takes effect at once; the handshake
        # runs in the handler thread so a stalled client cannot block the accept loop.
        context = self.fake._contexts[self.fake.serve_untrusted_certificate]
        return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address) -> None:
        self.fake.errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def setup(self) -> None:
        self.tls_ok = True
        try:
            self.request.settimeout(5)
            self.request.do_handshake()
        except (OSError, ssl.SSLError):
            # Expected in tests with untrusted peers; the client sees the TLS alert.
            self.tls_ok = False
        super().setup()

    def handle(self) -> None:
        if self.tls_ok:
            super().handle()

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.server.fake
        fake._record(RecordedRequest("GET", self.path, dict(self.headers), None, self._peer_pin()))
        if self.path != "/.well-known/jwks.json":
            return self._send(404, _error("not_found", "no such endpoint"))
        if fake.jwks_mode == "down":
            self.close_connection = True
            return None
        if fake.jwks_mode == "error":
            return self._send(500, _error("internal_error", "JWKS unavailable"))
        if fake.jwks_mode == "invalid":
            return self._send(200, {"keys": "not a list"})
        return self._send(200, fake.jwks())

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        peer = self._peer()
        fake._record(RecordedRequest("POST", self.path, dict(self.headers), body, peer and spki_pin(peer)))
        if self.path not in ("/transaction", "/elsewhere"):
            return self._send(404, _error("not_found", "no such endpoint"))
        if fake.transaction_mode == "redirect" and self.path == "/transaction":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if fake.transaction_mode == "hang":
            fake._release.wait(60)
            self.close_connection = True
            return None
        if fake.transaction_mode == "error":
            return self._send(500, _error("internal_error", "something broke"))
        if fake.transaction_mode == "invalid_json":
            return self._send_raw(200, b"<html>Gateway says hello</html>", "text/html")
        status, answer = fake._transaction(body, peer)
        return self._send(status, answer)

    def _peer(self) -> x509.Certificate | None:
        der = self.connection.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der) if der else None

    def _peer_pin(self) -> str | None:
        peer = self._peer()
        return peer and spki_pin(peer)

    def _send(self, status: int, obj: object) -> None:
        self._send_raw(status, json.dumps(obj).encode(), "application/json")

    def _send_raw(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def _error(code: str, description: str) -> dict:
    return {"error": {"code": code, "description": description}}


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
