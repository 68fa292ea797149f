"""Fixtures for the fakes, a plugin that tests/conftest.py registers: ask for ``auth_server`` by name."""

from __future__ import annotations

import pytest

from tests.fakes.auth_server import FakeAuthServer
from tests.fakes.auth_server import FakePki

_pki: FakePki | None = None


def _shared_pki(tmp_path_factory: pytest.TempPathFactory) -> FakePki:
    # One CA per test process: making CAs is the slow part, and no test changes them. Kept in a
    # module global (not a second session fixture) so that no other fixture needs to know about it.
    global _pki
    if _pki is None:
        _pki = FakePki(tmp_path_factory.mktemp("fake-nutid-pki"))
    return _pki


@pytest.fixture
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> FakeAuthServer:
    """A fresh, running fake of Sunet's nutid auth server (own keys, clients and counters)."""
    with FakeAuthServer(tmp_path_factory.mktemp("fake-nutid"), pki=_shared_pki(tmp_path_factory)) as server:
        yield server
    # A crash inside the fake would otherwise only show up as a confusing client-side error.
    assert not server.errors, "the fake auth server crashed:\n" + "\n".join(server.errors)
