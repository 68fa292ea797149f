"""Importing a register file (the ingest shapes in one JSON object), streamed in batches."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from itertools import islice
from typing import BinaryIO

import ijson
from sqlmodel import Session

from dnp.common.background import ahead
from dnp.common.sql import bulk_cache
from dnp.groups.sync import after_register_change
from dnp.register.ingest import RegisterIngest
from dnp.register.items import PreparedItem
from dnp.register.items import prepare_batch
from dnp.register.results import KINDS
from dnp.register.results import IngestRejected
from dnp.register.results import IngestSummary
from dnp.register.results import Problem

BATCH = 1000
# A register group carries its memberships (a whole year: hundreds), so fewer make a batch: with a
# batch being written and two more prepared ahead, memory stays near that of the person batches.
BATCH_OF = {"groups": 200}

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


class _BadJson(Exception):
    def __init__(self, kind: str, offset: int, error: ijson.JSONError):
        super().__init__(str(error))
        self.kind, self.offset, self.error = kind, offset, error


def _prepared_batches(stream: BinaryIO, kinds: list[str]) -> Iterator[tuple[str, list[PreparedItem], int]]:
    """(kind, its next batch checked item by item, position in the file), in the order of ``kinds``."""
    for kind in kinds:
        stream.seek(0)
        offset = 0
        try:
            items = ijson.items(stream, f"{kind}.item", use_float=True)
            for batch in batched(items, BATCH_OF.get(kind, BATCH)):
                yield kind, prepare_batch(kind, batch, offset), stream.tell()
                offset += len(batch)
        except ijson.JSONError as exc:
            raise _BadJson(kind, offset, exc) from exc


def import_stream(
    stream: BinaryIO, actor: str, progress: Progress | None = None, *, session: Session
) -> IngestSummary:
    """Upsert every item of the file, all or nothing, in the order organisations → groups.

    Memory stays bounded: items are parsed and written a batch at a time; only ids, EPPNs
    and school unit codes seen so far are remembered, for duplicate and reference checks.
    A background thread parses and checks the next batch while this one is written: the
    database's work then overlaps ours (both halves take about as long).
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
    with bulk_cache(session=session):
        try:
            for kind, prepared, position in ahead(_prepared_batches(stream, [k for k in KINDS if k in keys])):
                ingest.add_prepared(kind, prepared)
                if progress:
                    progress(kind, position)
        except _BadJson as bad:
            problem = Problem(bad.kind, bad.offset, None, "", f"felaktig JSON: {bad.error}")
            raise IngestRejected([problem], ingest.problem_count + 1) from bad.error
        summary = ingest.finish()
        after_register_change(summary.changed_ids, session=session)
    return summary
