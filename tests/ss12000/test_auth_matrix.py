"""Every SS 12000 endpoint needs a genuine token for us: the JWT matrix through the real endpoints."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import select

from dnp.ss12000.models import ApiCall
from tests.fakes.auth_server import API_LOCATION
from tests.ss12000.client import configure
from tests.ss12000.helpers import make_group

ENDPOINTS = [
    ("GET", "/organisations"),
    ("GET", "/persons"),
    ("GET", "/groups"),
    ("GET", "/duties"),
    ("GET", "/activities"),
    ("GET", "/persons/0b2c7f0e-0000-4000-8000-000000000001"),
    ("GET", "/deletedEntities"),
    ("POST", "/subscriptions"),
    ("PATCH", "/subscriptions/0b2c7f0e-0000-4000-8000-000000000001"),
    ("DELETE", "/subscriptions/0b2c7f0e-0000-4000-8000-000000000001"),
    ("POST", "/log"),
    ("POST", "/statistics"),
]


def expect(api, token, status: int, code: str):
    response = api.call("GET", "/persons", token=token)
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code and "data" not in body
    assert token not in response.get_data(as_text=True)
    return response


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_refuses_a_missing_token(api, method, path):
    response = api.call(method, path, token=False)
    assert response.status_code == 401
    assert response.get_json()["code"] == "missing_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_valid_token_is_served_and_recorded(app, api, world, db):
    make_group(app, world.unit["id"], [world.class_a["id"]])
    assert len(api.get("/persons")["data"]) == 4
    assert app.extensions["dnp.call_log"].flush() == 1
    call = db.exec(select(ApiCall)).one()
    assert (call.endpoint, call.count, call.status) == ("/persons", 4, 200)
    assert call.caller == "https://api.skolverket.se/provtjanst/ss12000/klient/v1"
    assert call.organization_id == "SE2021004185"


def test_time_issuer_audience_and_algorithm(api):
    server = api.server
    now = int(time.time())
    expect(api, server.issue(exp=now - 3600, iat=now - 7200, nbf=now - 7200), 401, "token_expired")
    expect(api, server.issue(nbf=now + 3600), 401, "token_not_yet_valid")
    expect(api, server.issue(iss="https://nutid-auth.evil.example"), 401, "invalid_issuer")
    expect(api, server.issue(aud="nutid test"), 401, "invalid_audience")
    expect(api, server.issue(omit=("exp",)), 401, "invalid_token")
    expect(api, server.issue(alg="none"), 401, "unsupported_algorithm")
    expect(api, server.issue(alg="HS256", key=server.public_key_pem()), 401, "unsupported_algorithm")
    expect(api, server.issue(alg="RS256"), 401, "unsupported_algorithm")
    expect(api, "not-a-jwt", 401, "malformed_token")
    response = api.call("GET", "/persons", token=False, headers={"Authorization": f"Basic {api.token}"})
    assert response.status_code == 401


def test_forged_signature_and_key_rotation(api):
    server = api.server
    forged = server.issue(key=ec.generate_private_key(ec.SECP256R1()))
    expect(api, forged, 401, "invalid_signature")
    tampered = api.token.rsplit(".", 1)[0][:-4] + "AAAA." + api.token.rsplit(".", 1)[1]
    assert api.call("GET", "/persons", token=tampered).status_code == 401

    assert api.call("GET", "/persons").status_code == 200  # keys cached now
    expect(api, server.issue(kid="nutid_auth_unknown"), 401, "unknown_key")
    rotated = server.add_key("nutid_auth_2027")  # nutid publishes a new key and signs with it
    assert api.call("GET", "/persons", token=server.issue(kid=rotated)).status_code == 200
    server.drop_key(rotated)


def test_organisation_location_and_requested_access(api):
    server = api.server
    expect(api, server.issue(organization_id="SE2120001234"), 403, "wrong_organization")
    for location in (
        API_LOCATION + "/",
        API_LOCATION + "evil",
        API_LOCATION.upper(),
        "https://evil.example/?u=" + API_LOCATION,
        API_LOCATION.replace("https://", "http://"),
    ):
        expect(api, server.issue(location=location), 403, "location_not_granted")
    wrong_type = [{"type": "ss12000-client", "locations": [API_LOCATION]}]
    expect(api, server.issue(requested_access=wrong_type), 403, "location_not_granted")
    for malformed in ("ss12000-api", ["ss12000-api"], [{"type": "ss12000-api", "locations": API_LOCATION}]):
        expect(api, server.issue(requested_access=malformed), 403, "location_not_granted")


@pytest.mark.parametrize("mode", ["down", "error", "invalid"])
def test_unreachable_keys_fail_closed(app, api, mode):
    api.server.jwks_mode = mode
    configure(app, api.server)  # a fresh verifier: nothing cached
    response = expect(api, api.token, 503, "jwks_unavailable")
    assert "data" not in response.get_json()
