"""Schemathesis, property-based, against our API with Skolverket's spec: no 5xx, no schema violation."""

from __future__ import annotations

import json

import schemathesis
import yaml
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from schemathesis import checks

from tests.ss12000.client import configure
from tests.ss12000.helpers import make_group
from tests.ss12000.spec import SPEC_PATH

EXAMPLES = 15
# Conformance of what we answer. Not "positive data acceptance": the spec cannot say that a random
# string is no valid pageToken, or that a filter may not come with one, and both are rightly a 400.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def _schema(app):
    """Skolverket's expose spec bound to our WSGI app under /ss12000."""
    # Through JSON: YAML reads the spec's example timestamps as datetimes, JSON Schema wants strings.
    raw = json.loads(json.dumps(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")), default=str))
    raw["servers"] = [{"url": "/ss12000"}]
    loaded = schemathesis.openapi.from_dict(raw)
    loaded.app = app
    return loaded


def test_api_conforms_to_skolverkets_spec(app, auth_server, world):
    configure(app, auth_server)
    make_group(app, world.unit["id"], [world.class_a["id"]], staff=[world.teacher["id"]])
    headers = {"Authorization": f"Bearer {auth_server.issue()}"}
    operations = [result.ok() for result in _schema(app).get_all_operations()]
    assert len(operations) == 16  # every operation of the spec, subscriptions and feedback included

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def conforms(case):
            response = case.call(headers=headers)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
            case.validate_response(response, checks=CHECKS)

        conforms()
