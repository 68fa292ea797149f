"""Skolverket's JSON schemas (draft 2020-12), loaded once and used for ingest bodies."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import fastjsonschema
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing import Resource

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "ss12000"

# The schema file that describes one item of each ingest kind.
ITEM_SCHEMAS = {
    "organisations": "organisation",
    "persons": "person",
    "duties": "duty",
    "groups": "group",
}


@cache
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        resources.append((document["$id"], Resource.from_contents(document)))
    return Registry().with_resources(resources)


@cache
def item_validator(kind: str) -> Draft202012Validator:
    """A validator for one item of ``kind`` (e.g. one person), with formats checked."""
    name = ITEM_SCHEMAS[kind]
    schema = _registry().contents(f"/schemas/{name}")
    return Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@cache
def reference_validator() -> Draft202012Validator:
    """A validator for an object reference ``{"id": uuid}`` (DELETE bodies)."""
    schema = _registry().contents("/schemas/objectReference")
    return Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _inline(node, documents: dict):
    """Replace ``$ref``s to sibling schemas by their content (they are not recursive)."""
    if isinstance(node, dict):
        if node.get("$ref") in documents:
            rest = {key: value for key, value in node.items() if key != "$ref"}
            return {**_inline(documents[node["$ref"]], documents), **rest}
        return {
            key: _inline(value, documents) for key, value in node.items() if key not in ("$schema", "$id")
        }
    if isinstance(node, list):
        return [_inline(value, documents) for value in node]
    return node


@cache
def fast_check(kind: str):
    """A compiled checker for one item of ``kind``: raises on the first violation.

    jsonschema needs ~0.6 ms per person; the compiled check ~0.04 ms, so large imports
    only pay for the full, every-problem report on items that fail.
    """
    documents = {uri: _registry().contents(uri) for uri in _registry()}
    name = "objectReference" if kind == "references" else ITEM_SCHEMAS[kind]
    schema = _inline(documents[f"/schemas/{name}"], documents)
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return fastjsonschema.compile(schema, formats={"uuid": _UUID.pattern})


def is_valid(kind: str, item: object) -> bool:
    """True when ``item`` satisfies the schema of ``kind``."""
    try:
        fast_check(kind)(item)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def schema_problems(validator: Draft202012Validator, item: object) -> list[tuple[str, str]]:
    """Every schema violation of ``item`` as (field path, Swedish-English message)."""
    problems = []
    for error in validator.iter_errors(item):
        path = ".".join(str(part) for part in error.absolute_path)
        problems.append((path, _message(error)))
    return problems


def _message(error) -> str:
    if error.validator == "required":
        return f"obligatoriskt fält saknas: {error.message.split(' ')[0]}"
    if error.validator == "type":
        expected = error.validator_value
        return f"fel typ: väntade {expected}, fick {type(error.instance).__name__}"
    if error.validator == "enum":
        allowed = ", ".join(str(value) for value in error.validator_value)
        return f"okänt värde {error.instance!r}; tillåtna värden: {allowed}"
    if error.validator == "format":
        return f"ogiltigt format, väntade {error.validator_value}"
    if error.validator == "minItems":
        return f"minst {error.validator_value} element krävs"
    if error.validator in ("minimum", "maximum"):
        return f"värdet {error.instance!r} ligger utanför tillåtet intervall"
    return error.message
