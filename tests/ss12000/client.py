"""An SS 12000 client for tests: tokens from the fake nutid server, answers checked against the spec."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from dnp.ss12000.auth import JwtVerifier
from tests.fakes.auth_server import API_LOCATION
from tests.ss12000 import spec

ALLOWED_TARGETS = "https://api.skolverket.se/provtjanst/ss12000/klient/v1/webhooks/,https://apigw-pre.skolverket.se/provtjanst/verifieringstest/ss12000/klient/v1"


@dataclass
class Api:
    """Calls ``/ss12000/...`` with a bearer token and validates each response against expose-openapi.yml."""

    client: object
    server: object
    token: str

    def call(self, method: str, path: str, token: str | None = None, **kwargs):
        """Any request; the response (body checked against the specification)."""
        headers = kwargs.pop("headers", {})
        if token is not False:
            headers["Authorization"] = f"Bearer {token or self.token}"
        url = "/ss12000" + path
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        spec.validate(method, path, response.status_code, response.get_data())
        return response

    def get(self, path: str, **params):
        """GET with query parameters; the parsed JSON body (asserting 200)."""
        response = self.call("GET", path, query_string=params)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def post(self, path: str, body, **kwargs):
        """POST a JSON body."""
        return self.call("POST", path, data=json.dumps(body), content_type="application/json", **kwargs)

    def all(self, kind: str, limit: int = 1000, **filters) -> list[dict]:
        """Every entity of a list endpoint, following page tokens."""
        page = self.get(f"/{kind}", limit=limit, **filters)
        items = list(page["data"])
        while page.get("pageToken"):
            page = self.get(f"/{kind}", pageToken=page["pageToken"])
            items += page["data"]
        return items


def configure(app, server) -> None:
    """Point the app's SS 12000 settings at the fake auth server."""
    app.config.update(
        SS12000_JWKS_URL=server.jwks_url,
        SS12000_ISSUER=server.issuer,
        SS12000_AUDIENCE="nutid",
        SS12000_LOCATION=API_LOCATION,
        TLS_CA_BUNDLE=str(server.ca_bundle_path),
        WEBHOOK_ALLOWED_TARGETS=ALLOWED_TARGETS,
    )
    # The production verifier, except that it may refetch the JWKS at once (key rotation tests).
    verifier = JwtVerifier.from_config(app.config)
    verifier.jwks.refetch_interval = 0
    app.extensions["dnp.ss12000_verifier"] = verifier


@pytest.fixture
def api(app, client, auth_server) -> Api:
    """A client of our SS 12000 API holding a valid token from the fake auth server."""
    configure(app, auth_server)
    return Api(client, auth_server, auth_server.issue())
