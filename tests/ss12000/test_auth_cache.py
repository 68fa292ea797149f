"""Verified SS 12000 tokens are remembered: one signature check per token, time and keys still checked."""

from __future__ import annotations

import jwt
import pytest

from dnp.ss12000 import auth
from tests.fakes.auth_server import SKOLVERKET_CLIENT
from tests.helpers import Clock
from tests.ss12000.test_auth import JWKS_PATH
from tests.ss12000.test_auth import make_verifier
from tests.ss12000.test_auth import rejected


@pytest.fixture
def clocks():
    return Clock(start=1000.0), Clock()  # monotonic, wall


@pytest.fixture
def verifier(auth_server, clocks):
    monotonic, wall = clocks
    return make_verifier(auth_server, clock=monotonic, wall_clock=wall)


@pytest.fixture
def decodes(monkeypatch):
    """How many times a signature was checked."""
    calls = []
    real = jwt.decode
    monkeypatch.setattr(auth.jwt, "decode", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_a_token_is_verified_once_for_many_pages(verifier, auth_server, decodes):
    token = auth_server.issue()
    callers = [verifier.verify(f"Bearer {token}") for _ in range(20)]
    assert {caller.subject for caller in callers} == {SKOLVERKET_CLIENT}
    assert len(decodes) == 1
    verifier.verify(f"Bearer {auth_server.issue()}")  # another token is checked on its own
    assert len(decodes) == 2


def test_a_remembered_token_still_expires(verifier, auth_server, clocks):
    _, wall = clocks
    token = auth_server.issue(exp=int(wall.now) + 60)
    verifier.verify(f"Bearer {token}")
    wall.advance(60 + verifier.leeway - 1)
    assert verifier.verify(f"Bearer {token}").subject == SKOLVERKET_CLIENT  # inside the leeway
    wall.advance(2)
    error = rejected(verifier, token)
    assert (error.status, error.code) == (401, "token_expired")


def test_a_remembered_token_is_refused_once_its_key_leaves_the_jwks(verifier, auth_server, clocks):
    monotonic, _ = clocks
    old_kid = auth_server.current_kid
    token = auth_server.issue()
    verifier.verify(f"Bearer {token}")
    auth_server.add_key()
    auth_server.drop_key(old_kid)
    monotonic.advance(verifier.jwks.max_age)  # the key set is refetched on the next call
    error = rejected(verifier, token)
    assert (error.status, error.code) == (401, "unknown_key")
    assert auth_server.count(JWKS_PATH) == 2


def test_a_remembered_token_fails_closed_when_the_jwks_cannot_be_refreshed(verifier, auth_server, clocks):
    monotonic, _ = clocks
    token = auth_server.issue()
    verifier.verify(f"Bearer {token}")
    auth_server.jwks_mode = "down"
    monotonic.advance(verifier.jwks.max_age)
    error = rejected(verifier, token)
    assert (error.status, error.code) == (503, "jwks_unavailable")


def test_refused_tokens_are_not_remembered(verifier, auth_server, decodes):
    token = auth_server.issue(organization_id="SE0000000000")
    for _ in range(3):
        assert rejected(verifier, token).code == "wrong_organization"
    assert len(decodes) == 3


def test_the_memory_is_bounded(verifier, auth_server, monkeypatch):
    monkeypatch.setattr(auth, "VERIFIED_CACHE_SIZE", 5)
    for _ in range(12):
        verifier.verify(f"Bearer {auth_server.issue()}")
        assert len(verifier._verified) <= 5
