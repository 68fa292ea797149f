"""Importing a register file (the ingest shapes in one JSON object), streamed in batches."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from itertools import islice
from typing import BinaryIO

import ijson
from sqlmodel import Session

from dnp.groups.sync import after_register_change
from dnp.register.ingest import RegisterIngest
from dnp.register.results import KINDS
from dnp.register.results import IngestRejected
from dnp.register.results import IngestSummary
from dnp.register.results import Problem

BATCH = 1000

Progress = Callable[[str, int], None]


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Yield lists of up to ``size`` items."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def top_level_keys(stream: BinaryIO) -> list[str]:
    """The keys of the file's top-level object, without loading it."""
    stream.seek(0)
    keys = []
    for prefix, event, value in ijson.parse(stream):
        if prefix == "" and event == "map_key":
            keys.append(value)
        elif prefix == "" and event == "start_array":
            break
    return keys


def import_stream(
    stream: BinaryIO, actor: str, progress: Progress | None = None, *, session: Session
) -> IngestSummary:
    """Upsert every item of the file, all or nothing, in the order organisations → groups.

    Memory stays bounded: items are parsed and written ``BATCH`` at a time; only ids, EPPNs
    and school unit codes seen so far are remembered, for duplicate and reference checks.
    """
    try:
        keys = top_level_keys(stream)
    except ijson.JSONError as exc:
        raise IngestRejected([Problem("file", None, None, "", f"felaktig JSON: {exc}")], 1) from exc
    unknown = [key for key in keys if key not in KINDS]
    if unknown or not keys:
        message = f"filen ska vara ett objekt med nycklarna {', '.join(KINDS)}; okända: {unknown}"
        raise IngestRejected([Problem("file", None, None, "", message)], 1)
    ingest = RegisterIngest(actor, "upsert", session=session)
    for kind in KINDS:
        if kind not in keys:
            continue
        stream.seek(0)
        offset = 0
        try:
            for batch in batched(ijson.items(stream, f"{kind}.item", use_float=True), BATCH):
                ingest.add_batch(kind, batch, offset)
                offset += len(batch)
                if progress:
                    progress(kind, stream.tell())
        except ijson.JSONError as exc:
            raise IngestRejected(
                [Problem(kind, offset, None, "", f"felaktig JSON: {exc}")], ingest.problem_count + 1
            ) from exc
    summary = ingest.finish()
    after_register_change(summary.changed_ids, session=session)
    return summary
