"""Checks response bodies against Skolverket's ``expose-openapi.yml`` (OpenAPI 3.0 → JSON Schema)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import yaml
from jsonschema import Draft4Validator
from jsonschema import FormatChecker
from referencing import Registry
from referencing import Resource
from referencing.jsonschema import DRAFT4

SPEC_PATH = Path(__file__).resolve().parents[2] / "dnp" / "schemas" / "ss12000" / "expose-openapi.yml"
SPEC_URI = "urn:dnp:expose-openapi"
PREFIX = "/ss12000"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

FORMATS = FormatChecker()
FORMATS.checks("uuid")(lambda value: not isinstance(value, str) or bool(_UUID.match(value)))
FORMATS.checks("date-time")(lambda value: not isinstance(value, str) or bool(_DATE_TIME.match(value)))
FORMATS.checks("email")(lambda value: not isinstance(value, str) or value.count("@") == 1)


def _json_schema(node):
    """OpenAPI 3.0 schema objects as JSON Schema: ``nullable`` becomes a null type."""
    if isinstance(node, dict):
        node = {key: _json_schema(value) for key, value in node.items() if key not in ("example", "readOnly")}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        return node
    if isinstance(node, list):
        return [_json_schema(value) for value in node]
    return node


@cache
def spec() -> dict:
    """The converted specification."""
    return _json_schema(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")))


@cache
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource(contents=spec(), specification=DRAFT4))


def operation(method: str, path: str) -> tuple[str, dict]:
    """The spec's path template and operation for a request path (with or without /ss12000)."""
    path = path.split("?")[0].removeprefix(PREFIX)
    for template, operations in spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return template, operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the specification")


def response_schema(method: str, path: str, status: int) -> dict | None:
    """The JSON schema of a response, None when the spec defines no body; fails for undocumented codes."""
    template, op = operation(method, path)
    responses = op["responses"]
    # 401 is not in Skolverket's spec at all; its body still has to be the spec's Error.
    key = str(status) if str(status) in responses else "default" if "default" in responses else None
    if status == 401:
        return {"$ref": f"{SPEC_URI}#/components/schemas/Error"}
    assert key is not None, f"{status} is not a documented answer of {method} {template}"
    content = responses[key].get("content")
    if not content:
        return None
    path = template.replace("/", "~1")
    pointer = f"/paths/{path}/{method.lower()}/responses/{key}/content/application~1json/schema"
    return {"$ref": f"{SPEC_URI}#{pointer}"}


def validate(method: str, path: str, status: int, body: bytes) -> None:
    """Raise AssertionError unless the response conforms to the specification."""
    schema = response_schema(method, path, status)
    if schema is None:
        return
    document = json.loads(body)
    validator = Draft4Validator(schema, registry=_registry(), format_checker=FORMATS)
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(document)]
    assert not errors, f"{method} {path} → {status} violates the specification:\n" + "\n".join(errors[:10])
