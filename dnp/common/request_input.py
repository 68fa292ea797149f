"""Odd input refused in one place, before any view or service sees it.

Every JSON body is read by ``parse_json`` and every form field, query argument and path by the app's
hooks (``dnp.web``), so the same rules hold for every route, including routes added later:

- text must be storable: PostgreSQL cannot store NUL, and a lone surrogate cannot be encoded as UTF-8;
- JSON must be plain JSON (no NaN or Infinity) and nested at most ``MAX_JSON_DEPTH`` deep, so that no
  validator or walker downstream can run out of stack;
- ids in URLs and page numbers are bounded, so they never overflow a database integer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_JSON_DEPTH = 64
# PostgreSQL's integer (the id columns): a larger id cannot exist, and would overflow in the query.
MAX_DATABASE_ID = 2**31 - 1
MAX_PAGE = 100_000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ID = re.compile("[0-9]{1,10}")


class BadInput(ValueError):
    """Input that no route accepts; the message says why (sent as a 400)."""


@dataclass(frozen=True)
class BadText:
    """Where unstorable text is in a JSON document: the value's path, or the path of the key's object."""

    path: tuple[str | int, ...]
    in_key: bool = False

    def pointer(self) -> str:
        """The path as a JSON pointer, e.g. ``/persons/0/givenName``."""
        return "".join(f"/{part}" for part in self.path) or "/"


def is_storable(text: str) -> bool:
    """False for text holding NUL or a lone surrogate (PostgreSQL and UTF-8 refuse them)."""
    return _UNSTORABLE.search(text) is None


def check_texts(texts: Iterable[str], where: str) -> None:
    """BadInput if any of ``texts`` is not storable; ``where`` names the part of the request."""
    if not all(is_storable(text) for text in texts):
        raise BadInput(f"{where} must not contain NUL or unpaired surrogate characters")


def _refuse_constant(name: str) -> None:
    raise BadInput(f"{name} is not JSON")


def parse_json(raw: bytes, *, check_text: bool = True) -> object:
    """A request body as JSON; BadInput for anything but plain JSON of bounded depth, and (unless the
    caller reports it itself, ``check_text=False``) for text that cannot be stored."""
    try:
        text = raw.decode(json.detect_encoding(raw))
    except UnicodeDecodeError:
        raise BadInput("the body is not valid UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadInput(f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep") from None
    except BadInput:
        raise
    except ValueError as error:
        raise BadInput(f"the body is not valid JSON: {error}") from None
    bad = unstorable_texts(value)
    if bad and check_text:
        where = "a key" if bad[0].in_key else "the text"
        raise BadInput(
            f"{where} at {bad[0].pointer()[:200]} must not contain NUL or unpaired surrogate characters"
        )
    return value


def unstorable_texts(value: object, limit: int = 1000) -> list[BadText]:
    """Every string and key of a parsed document that cannot be stored (at most ``limit``), in document
    order; BadInput if the document is nested deeper than ``MAX_JSON_DEPTH``. Iterative: the depth is
    what is being checked."""
    found: list[BadText] = []
    pending: list[tuple[object, int, tuple]] = [(value, 1, ())]
    while pending:
        node, depth, path = pending.pop()
        if isinstance(node, str):
            if not is_storable(node) and len(found) < limit:
                found.append(BadText(path))
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadInput(f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep")
        if isinstance(node, list):
            children = [(item, depth + 1, (*path, index)) for index, item in enumerate(node)]
        else:
            if not all(is_storable(key) for key in node) and len(found) < limit:
                found.append(BadText(path, in_key=True))
            # A bad key is reported once, for its object; its value is not walked under that name.
            children = [(item, depth + 1, (*path, key)) for key, item in node.items() if is_storable(key)]
        pending.extend(reversed(children))
    return found


def database_id(text: str) -> int | None:
    """A decimal id (ASCII digits) that fits the id columns, else None."""
    if not _ID.fullmatch(text):
        return None
    number = int(text)
    return number if number <= MAX_DATABASE_ID else None


def page_number(text: str | None) -> int:
    """A 1-based page number from a query argument: 1 for anything odd, at most ``MAX_PAGE``."""
    if not text or not re.fullmatch("[0-9]{1,9}", text):
        return 1
    return min(max(1, int(text)), MAX_PAGE)
