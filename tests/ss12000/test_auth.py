"""Incoming SS 12000 JWTs: signature, algorithm, time, issuer/audience, organisation, location, JWKS."""

from __future__ import annotations

import ssl
import threading
import time
import uuid

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from dnp.ss12000.auth import AuthError
from dnp.ss12000.auth import JwtVerifier
from tests.fakes.auth_server import API_LOCATION
from tests.fakes.auth_server import SKOLVERKET_CLIENT
from tests.fakes.auth_server import SKOLVERKET_ORGANIZATION_ID

JWKS_PATH = "/.well-known/jwks.json"


def make_verifier(auth_server, **options) -> JwtVerifier:
    """A verifier that trusts the fake auth server, as production would be configured."""
    return JwtVerifier(
        jwks_url=auth_server.jwks_url,
        issuer=auth_server.issuer,
        audience="nutid",
        organization_id=SKOLVERKET_ORGANIZATION_ID,
        location=API_LOCATION,
        ca_bundle=str(auth_server.ca_bundle_path),
        **options,
    )


@pytest.fixture
def verifier(auth_server, clock):
    return make_verifier(auth_server, clock=clock)


def rejected(verifier, token: str) -> AuthError:
    """The AuthError for a bearer token, after checking the message does not leak the token."""
    return rejected_header(verifier, f"Bearer {token}", token)


def rejected_header(verifier, header: str | None, token: str = "") -> AuthError:
    """The AuthError for a raw Authorization header."""
    with pytest.raises(AuthError) as info:
        verifier.verify(header)
    error = info.value
    for part in token.split("."):
        if len(part) > 8:
            assert part not in error.message and part not in str(error)
    assert error.as_dict() == {"code": error.code, "message": error.message}
    return error


# -- the happy path -----------------------------------------------------------------------------


def test_valid_token_gives_the_caller(verifier, auth_server):
    caller = verifier.verify(f"Bearer {auth_server.issue(personnummer='200901272385')}")
    assert caller.subject == SKOLVERKET_CLIENT
    assert caller.organization_id == SKOLVERKET_ORGANIZATION_ID
    assert caller.claims["requested_access"][0]["locations"] == [API_LOCATION]
    assert caller.claims["entity_id"] == SKOLVERKET_CLIENT
    # Unknown claims are not passed on: they might be personal data.
    assert "personnummer" not in caller.claims


def test_scheme_is_case_insensitive_and_keys_are_cached(verifier, auth_server):
    verifier.verify(f"bearer {auth_server.issue()}")
    verifier.verify(f"BEARER  {auth_server.issue()}")
    assert auth_server.count(JWKS_PATH) == 1


def test_injected_http_client_is_used(auth_server, clock):
    context = ssl.create_default_context(cafile=str(auth_server.ca_bundle_path))
    with httpx.Client(verify=context) as client:
        verifier = JwtVerifier(
            jwks_url=auth_server.jwks_url,
            issuer=auth_server.issuer,
            audience="nutid",
            organization_id=SKOLVERKET_ORGANIZATION_ID,
            location=API_LOCATION,
            ca_bundle="/nonexistent/ca.pem",  # would fail if the verifier built its own client
            http_client=client,
            clock=clock,
        )
        assert verifier.verify(f"Bearer {auth_server.issue()}").subject == SKOLVERKET_CLIENT


def test_from_config_reads_the_dnp_keys():
    verifier = JwtVerifier.from_config(
        {
            "SS12000_JWKS_URL": "https://as.example/jwks",
            "SS12000_ISSUER": "https://as.example",
            "SS12000_AUDIENCE": "nutid test",
            "SS12000_ORGANIZATION_ID": "SE2021004185",
            "SS12000_LOCATION": "https://dnp.example/ss12000",
            "TLS_CA_BUNDLE": "/etc/dnp/ca.pem",
        }
    )
    assert (verifier.jwks.url, verifier.issuer, verifier.audience) == (
        "https://as.example/jwks",
        "https://as.example",
        "nutid test",
    )
    assert (verifier.location, verifier.jwks.ca_bundle) == ("https://dnp.example/ss12000", "/etc/dnp/ca.pem")


# -- the Authorization header -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_token"),
        ("", "missing_token"),
        ("Basic dXNlcjpwYXNz", "missing_token"),
        ("Bearer", "missing_token"),
        ("Bearer ", "missing_token"),
        ("Bearer    ", "missing_token"),
        ("Token abc.def.ghi", "missing_token"),
        ("Bearer abc.def", "malformed_token"),
        ("Bearer abc.def.ghi extra", "malformed_token"),
        ("Bearer not-a-jwt", "malformed_token"),
        ("Bearer " + "a" * 5000 + "." + "b" * 5000 + ".c", "malformed_token"),
        ("Bearer e30.e30.", "unsupported_algorithm"),  # {} header: no alg at all
        ("Bearer aGVsbG8.e30.sig", "malformed_token"),  # header is not JSON
    ],
)
def test_bad_authorization_headers_are_401(verifier, auth_server, header, code):
    error = rejected_header(verifier, header)
    assert (error.status, error.code) == (401, code)
    assert auth_server.count(JWKS_PATH) == 0


# -- time -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": -60}, "token_expired"),
        ({"exp": -31 - 5}, "token_expired"),
        ({"nbf": 120}, "token_not_yet_valid"),
        ({"nbf": 36}, "token_not_yet_valid"),
        ({"iat": 120}, "token_not_yet_valid"),
    ],
)
def test_tokens_outside_their_time_window_are_401(verifier, auth_server, claims, code):
    now = int(time.time())
    token = auth_server.issue(**{name: now + offset for name, offset in claims.items()})
    error = rejected(verifier, token)
    assert (error.status, error.code) == (401, code)


@pytest.mark.parametrize("claims", [{"exp": -20}, {"nbf": 20, "iat": 20}, {"exp": -25, "nbf": -3600}])
def test_leeway_of_30_seconds_is_allowed(verifier, auth_server, claims):
    now = int(time.time())
    token = auth_server.issue(**{name: now + offset for name, offset in claims.items()})
    assert verifier.verify(f"Bearer {token}").organization_id == SKOLVERKET_ORGANIZATION_ID


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat", "iss", "aud"])
def test_required_claims_must_be_present(verifier, auth_server, claim):
    error = rejected(verifier, auth_server.issue(omit=(claim,)))
    assert (error.status, error.code) == (401, "invalid_token")


# -- issuer and audience ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iss": "https://nutid-auth.sunet.se.evil.example"}, "invalid_issuer"),
        ({"iss": "https://nutid-auth-test.sunet.se"}, "invalid_issuer"),
        ({"aud": "nutid test"}, "invalid_audience"),
        ({"aud": "NUTID"}, "invalid_audience"),
        ({"aud": ["other"]}, "invalid_audience"),
    ],
)
def test_other_issuer_or_audience_is_401(verifier, auth_server, claims, code):
    error = rejected(verifier, auth_server.issue(**claims))
    assert (error.status, error.code) == (401, code)


# -- algorithms and signatures ------------------------------------------------------------------


def test_alg_none_is_401(verifier, auth_server):
    error = rejected(verifier, auth_server.issue(alg="none"))
    assert (error.status, error.code) == (401, "unsupported_algorithm")


@pytest.mark.parametrize("secret", ["plain", "public_key_pem"])
def test_hs256_is_401_even_with_the_public_key_as_secret(verifier, auth_server, secret):
    verifier.verify(f"Bearer {auth_server.issue()}")  # keys cached, so the confusion attack has a target
    key = auth_server.public_key_pem() if secret == "public_key_pem" else b"shared-secret"
    error = rejected(verifier, auth_server.issue(alg="HS256", key=key))
    assert (error.status, error.code) == (401, "unsupported_algorithm")


def test_rs256_is_401(verifier, auth_server):
    error = rejected(verifier, auth_server.issue(alg="RS256"))
    assert (error.status, error.code) == (401, "unsupported_algorithm")


def test_signature_by_another_key_with_the_same_kid_is_401(verifier, auth_server):
    forged = auth_server.issue(key=ec.generate_private_key(ec.SECP256R1()), kid=auth_server.current_kid)
    error = rejected(verifier, forged)
    assert (error.status, error.code) == (401, "invalid_signature")


def test_tampered_claims_are_401(verifier, auth_server):
    genuine = auth_server.issue(organization_id="SE2120001234")
    other = auth_server.issue()
    # Skolverket's claims with the signature of a token issued to someone else.
    header, _, signature = genuine.split(".")
    tampered = ".".join([header, other.split(".")[1], signature])
    error = rejected(verifier, tampered)
    assert (error.status, error.code) == (401, "invalid_signature")


def test_non_p256_keys_in_the_jwks_are_never_used(verifier, auth_server):
    # An attacker-friendly JWKS entry: a symmetric key under the kid the attacker signs with.
    secret = b"k" * 32
    auth_server.extra_jwks = [
        {"kty": "oct", "kid": "sym", "k": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s"}
    ]
    error = rejected(
        verifier, auth_server.issue(alg="ES256", kid="sym", key=ec.generate_private_key(ec.SECP256R1()))
    )
    assert (error.status, error.code) == (401, "unknown_key")
    error = rejected(verifier, auth_server.issue(alg="HS256", kid="sym", key=secret))
    assert error.code == "unsupported_algorithm"


# -- key ids, rotation and the refetch rate limit ------------------------------------------------


def test_unknown_kid_refetches_and_picks_up_a_rotated_key(verifier, auth_server, clock):
    old_kid = auth_server.current_kid
    old_token = auth_server.issue()
    verifier.verify(f"Bearer {old_token}")
    assert auth_server.count(JWKS_PATH) == 1

    clock.advance(11)
    new_kid = auth_server.add_key()  # nutid publishes the new key and signs with it
    assert verifier.verify(f"Bearer {auth_server.issue()}").subject == SKOLVERKET_CLIENT
    assert auth_server.count(JWKS_PATH) == 2
    assert verifier.verify(f"Bearer {old_token}").subject == SKOLVERKET_CLIENT  # both keys known

    auth_server.drop_key(old_kid)
    clock.advance(verifier.jwks.max_age)  # cache expires: the next call refetches
    assert verifier.verify(f"Bearer {auth_server.issue(kid=new_kid)}").subject == SKOLVERKET_CLIENT
    error = rejected(verifier, old_token)
    assert (error.status, error.code) == (401, "unknown_key")


def test_garbage_kids_do_not_hammer_the_jwks_host(verifier, auth_server, clock):
    verifier.verify(f"Bearer {auth_server.issue()}")
    for _ in range(50):
        clock.advance(0.1)
        error = rejected(verifier, auth_server.issue(kid=uuid.uuid4().hex))
        assert (error.status, error.code) == (401, "unknown_key")
    # 5 s of garbage: the first unknown kid may refetch (the cache is young, so it does not).
    assert auth_server.count(JWKS_PATH) == 1
    clock.advance(10)
    rejected(verifier, auth_server.issue(kid="garbage"))
    rejected(verifier, auth_server.issue(kid="more-garbage"))
    assert auth_server.count(JWKS_PATH) == 2


def test_rotation_inside_the_rate_limit_window_waits_for_it(verifier, auth_server, clock):
    verifier.verify(f"Bearer {auth_server.issue()}")
    auth_server.add_key()
    clock.advance(3)
    assert rejected(verifier, auth_server.issue()).code == "unknown_key"
    clock.advance(7)
    assert verifier.verify(f"Bearer {auth_server.issue()}").subject == SKOLVERKET_CLIENT
    assert auth_server.count(JWKS_PATH) == 2


def test_concurrent_requests_with_a_new_kid_fetch_the_jwks_once(verifier, auth_server, clock):
    verifier.verify(f"Bearer {auth_server.issue()}")
    clock.advance(60)
    auth_server.add_key()
    token = auth_server.issue()
    barrier = threading.Barrier(12)
    results: list[object] = []

    def call():
        barrier.wait()
        try:
            results.append(verifier.verify(f"Bearer {token}").subject)
        except AuthError as error:
            results.append(error.code)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [SKOLVERKET_CLIENT] * 12
    assert auth_server.count(JWKS_PATH) == 2


# -- JWKS failures fail closed ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["down", "error", "invalid"])
def test_jwks_unavailable_fails_closed(verifier, auth_server, clock, mode):
    auth_server.jwks_mode = mode
    for _ in range(5):
        error = rejected(verifier, auth_server.issue())
        assert (error.status, error.code) == (503, "jwks_unavailable")
    assert auth_server.count(JWKS_PATH) == 1  # failures are rate limited too
    clock.advance(10)
    auth_server.jwks_mode = "ok"
    assert verifier.verify(f"Bearer {auth_server.issue()}").subject == SKOLVERKET_CLIENT


def test_expired_jwks_cache_with_the_host_down_fails_closed(verifier, auth_server, clock):
    token = auth_server.issue()
    verifier.verify(f"Bearer {token}")
    auth_server.jwks_mode = "down"
    clock.advance(verifier.jwks.max_age - 1)
    assert verifier.verify(f"Bearer {token}").subject == SKOLVERKET_CLIENT  # cached keys still good
    clock.advance(1)
    error = rejected(verifier, token)
    assert (error.status, error.code) == (503, "jwks_unavailable")


def test_jwks_host_with_an_untrusted_certificate_fails_closed(auth_server, clock):
    verifier = JwtVerifier(
        jwks_url=auth_server.jwks_url,
        issuer=auth_server.issuer,
        audience="nutid",
        organization_id=SKOLVERKET_ORGANIZATION_ID,
        location=API_LOCATION,
        ca_bundle=str(auth_server.pki.rogue_ca_bundle_path),
        clock=clock,
    )
    error = rejected(verifier, auth_server.issue())
    assert (error.status, error.code) == (503, "jwks_unavailable")


def test_jwks_without_usable_keys_fails_closed(verifier, auth_server):
    auth_server.drop_key(auth_server.current_kid)
    auth_server.extra_jwks = [{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}]
    error = rejected(verifier, auth_server.issue(key=ec.generate_private_key(ec.SECP256R1())))
    assert (error.status, error.code) == (503, "jwks_unavailable")


# -- organisation and location --------------------------------------------------------------------


@pytest.mark.parametrize(
    "organization_id", ["SE2120001234", "se2021004185", "SE2021004185 ", None, 2021004185]
)
def test_other_organisation_is_403(verifier, auth_server, organization_id):
    error = rejected(verifier, auth_server.issue(organization_id=organization_id))
    assert (error.status, error.code) == (403, "wrong_organization")


def test_missing_organisation_is_403(verifier, auth_server):
    error = rejected(verifier, auth_server.issue(omit=("organization_id",)))
    assert (error.status, error.code) == (403, "wrong_organization")


@pytest.mark.parametrize(
    "location",
    [
        API_LOCATION + "/",
        API_LOCATION.removesuffix("/v2.0"),  # a prefix of ours
        API_LOCATION[:-1],
        API_LOCATION + "0",
        API_LOCATION + "/persons",
        API_LOCATION.upper(),
        API_LOCATION.replace("https://dnp", "HTTPS://DNP"),
        API_LOCATION.replace("https://", "http://"),
        "https://evil.example/?u=" + API_LOCATION,  # the substring attack on the reference code
        "https://evil.example/" + API_LOCATION,
        " " + API_LOCATION,
        API_LOCATION + "\n",
        API_LOCATION.replace("dnp.", "dnp%2E"),
    ],
)
def test_location_look_alikes_are_403(verifier, auth_server, location):
    error = rejected(verifier, auth_server.issue(location=location))
    assert (error.status, error.code) == (403, "location_not_granted")


@pytest.mark.parametrize(
    "requested_access",
    [
        [{"type": "ss12000-client", "locations": [API_LOCATION]}],
        [{"type": "SS12000-API", "locations": [API_LOCATION]}],
        [{"locations": [API_LOCATION]}],
        [{"type": "ss12000-api", "locations": []}, {"type": "other", "locations": [API_LOCATION]}],
        [],
    ],
)
def test_our_location_under_another_type_is_403(verifier, auth_server, requested_access):
    error = rejected(verifier, auth_server.issue(requested_access=requested_access))
    assert (error.status, error.code) == (403, "location_not_granted")


@pytest.mark.parametrize(
    "requested_access",
    [
        [{"type": "ss12000-api", "locations": ["https://other.example/ss12000", API_LOCATION]}],
        [
            {"type": "ss12000-client", "locations": "whatever"},
            {"type": "ss12000-api", "scope": "read", "locations": [API_LOCATION]},
        ],
        [
            {"type": "ss12000-api", "locations": ["https://other.example"]},
            {"type": "ss12000-api", "locations": [API_LOCATION]},
        ],
    ],
)
def test_our_exact_location_among_others_is_accepted(verifier, auth_server, requested_access):
    caller = verifier.verify(f"Bearer {auth_server.issue(requested_access=requested_access)}")
    assert caller.claims["requested_access"] == requested_access


@pytest.mark.parametrize(
    "requested_access",
    [
        {"type": "ss12000-api", "locations": [API_LOCATION]},  # an object, not a list
        API_LOCATION,
        None,
        [API_LOCATION],
        [{"type": "ss12000-api", "locations": [API_LOCATION]}, "junk"],
        [{"type": "ss12000-api"}],
        [{"type": "ss12000-api", "locations": API_LOCATION}],  # a string: `in` would match substrings
        [{"type": "ss12000-api", "locations": {API_LOCATION: True}}],
        [{"type": "ss12000-api", "locations": [[API_LOCATION]]}],
        [{"type": "ss12000-api", "locations": [None, API_LOCATION]}],
    ],
)
def test_malformed_requested_access_is_403(verifier, auth_server, requested_access):
    error = rejected(verifier, auth_server.issue(requested_access=requested_access))
    assert (error.status, error.code) == (403, "location_not_granted")


def test_missing_requested_access_is_403(verifier, auth_server):
    error = rejected(verifier, auth_server.issue(omit=("requested_access",)))
    assert (error.status, error.code) == (403, "location_not_granted")
