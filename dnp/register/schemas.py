"""Skolverket's JSON schemas (draft 2020-12), loaded once and used for ingest bodies."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import fastjsonschema
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing import Resource

from dnp.common import identifiers

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


def _uuid_format(value: object) -> bool:
    # Formats only judge strings; the stock uuid check also takes "{…}" and a trailing newline.
    return not isinstance(value, str) or identifiers.is_uuid(value)


# The stock checker with a strict uuid format, shared by the full and the compiled check.
_FORMAT_CHECKER = copy.copy(Draft202012Validator.FORMAT_CHECKER)
_FORMAT_CHECKER.checkers = {**Draft202012Validator.FORMAT_CHECKER.checkers}
_FORMAT_CHECKER.checks("uuid")(_uuid_format)


@cache
def item_validator(kind: str) -> Draft202012Validator:
    """A validator for one item of ``kind`` (e.g. one person), with formats checked."""
    name = ITEM_SCHEMAS[kind]
    schema = _registry().contents(f"/schemas/{name}")
    return Draft202012Validator(schema, registry=_registry(), format_checker=_FORMAT_CHECKER)


@cache
def reference_validator() -> Draft202012Validator:
    """A validator for an object reference ``{"id": uuid}`` (DELETE bodies)."""
    schema = _registry().contents("/schemas/objectReference")
    return Draft202012Validator(schema, registry=_registry(), format_checker=_FORMAT_CHECKER)


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
    return fastjsonschema.compile(schema, formats={"uuid": _uuid_format})


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


def covered_paths(problems: list[tuple[str, str]]) -> set[str]:
    """The field paths ``problems`` are about; a missing required field counts as its own path."""
    covered = set()
    for path, message in problems:
        if message.startswith(_REQUIRED_PREFIX):
            name = message[len(_REQUIRED_PREFIX) :].strip("'\"")
            covered.add(f"{path}.{name}" if path else name)
        elif path:
            covered.add(path)
    return covered


_REQUIRED_PREFIX = "obligatoriskt fält saknas: "


def _message(error) -> str:
    if error.validator == "required":
        return f"{_REQUIRED_PREFIX}{error.message.split(' ')[0]}"
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
