"""Writing publication changes: upserts only when the hash differs, tombstones, outbox rows."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlmodel import Session

from dnp.common.sql import among
from dnp.common.sql import insert_rows
from dnp.publication import render
from dnp.publication.models import Change
from dnp.publication.models import DeletedEntity
from dnp.publication.models import Outbox
from dnp.publication.models import PublishedEntity
from dnp.types import text_hash

CHUNK = 500
# Publishing into a table the planner believes small (a first publication of a whole municipality)
# made each lookup a sequential scan of everything inserted so far: 8 minutes instead of one for
# 100,000 persons on PostgreSQL. So the statistics are refreshed, inside the transaction (it counts
# its own rows), whenever the rows inserted so far have doubled from this many.
ANALYZE_FROM = 2000
PUBLISHED = PublishedEntity.__table__
DELETED = DeletedEntity.__table__
OUTBOX = Outbox.__table__


def _parts(ids: list[str]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def documents(resource: str, ids: list[str], *, session: Session) -> dict[str, dict]:
    """Stored documents (parsed) of these ids that are published now."""
    found: dict[str, dict] = {}
    for part in _parts(list(ids)):
        rows = session.connection().execute(
            select(PUBLISHED.c.id, PUBLISHED.c.document).where(
                PUBLISHED.c.resource == resource, among(PUBLISHED.c.id, part, session=session)
            )
        )
        found.update((entity_id, json.loads(text)) for entity_id, text in rows)
    return found


def published_ids(resource: str, *, session: Session) -> list[str]:
    """Ids of every published entity of a resource type."""
    rows = session.connection().execute(select(PUBLISHED.c.id).where(PUBLISHED.c.resource == resource))
    return [entity_id for (entity_id,) in rows]


class Writer:
    """Applies desired documents of one resource type; ``None`` means "must not be published"."""

    def __init__(self, now: datetime, *, session: Session):
        self.session = session
        self.now = now
        self.counts: Counter = Counter()
        self.inserted = 0
        self._analyze_at = ANALYZE_FROM

    def apply(self, resource: str, desired: dict[str, dict | None]) -> None:
        """Insert, update or delete so the stored documents equal ``desired``; equal ones stay untouched."""
        ids = sorted(desired)
        connection = self.session.connection()
        existing: dict[str, tuple[str, datetime]] = {}
        for part in _parts(ids):
            rows = connection.execute(
                select(PUBLISHED.c.id, PUBLISHED.c.content_hash, PUBLISHED.c.created).where(
                    PUBLISHED.c.resource == resource, among(PUBLISHED.c.id, part, session=self.session)
                )
            )
            existing.update((entity_id, (digest, created)) for entity_id, digest, created in rows)
        inserts, updates, deletes = [], [], []
        for entity_id in ids:
            document = desired[entity_id]
            if document is None:
                if entity_id in existing:
                    deletes.append(entity_id)
                continue
            text = render.serialise(document)
            digest = text_hash(text)
            row = {"resource": resource, "id": entity_id, "content_hash": digest, "modified": self.now}
            if entity_id not in existing:
                document = render.with_meta(text, self.now, self.now)
                inserts.append({**row, "document": document, "created": self.now})
            elif existing[entity_id][0] != digest:
                document = render.with_meta(text, existing[entity_id][1], self.now)
                updates.append({**row, "_id": entity_id, "document": document})
        if inserts:
            insert_rows(PUBLISHED, inserts, session=self.session)
            self._keep_statistics_fresh(len(inserts))
            # Back in the snapshot: an old deletion must not make the client remove it again.
            for part in _parts([row["id"] for row in inserts]):
                connection.execute(
                    delete(DELETED).where(
                        DELETED.c.resource == resource, among(DELETED.c.entity_id, part, session=self.session)
                    )
                )
        if updates:
            connection.execute(
                update(PUBLISHED)
                .where(and_(PUBLISHED.c.resource == resource, PUBLISHED.c.id == bindparam("_id")))
                .values(
                    document=bindparam("document"),
                    content_hash=bindparam("content_hash"),
                    modified=bindparam("modified"),
                ),
                [
                    {key: row[key] for key in ("_id", "document", "content_hash", "modified")}
                    for row in updates
                ],
            )
        for part in _parts(deletes):
            connection.execute(
                delete(PUBLISHED).where(
                    PUBLISHED.c.resource == resource, among(PUBLISHED.c.id, part, session=self.session)
                )
            )
        insert_rows(
            DELETED,
            [{"resource": resource, "entity_id": i, "deleted_at": self.now} for i in deletes],
            session=self.session,
        )
        changes = [(row["id"], Change.CREATED) for row in inserts]
        changes += [(row["_id"], Change.MODIFIED) for row in updates] + [(i, Change.DELETED) for i in deletes]
        insert_rows(
            OUTBOX,
            [
                {"resource": resource, "entity_id": i, "change": change, "created_at": self.now}
                for i, change in changes
            ],
            session=self.session,
        )
        for _, change in changes:
            self.counts[f"{resource}.{change}"] += 1

    def _keep_statistics_fresh(self, inserted: int) -> None:
        """ANALYZE the publication on PostgreSQL each time the rows inserted so far have doubled."""
        self.inserted += inserted
        connection = self.session.connection()
        if self.inserted < self._analyze_at or connection.dialect.name != "postgresql":
            return
        connection.exec_driver_sql("ANALYZE published_entity")
        self._analyze_at = self.inserted * 2


def restamp(resource: str, ids: list[str], now: datetime, *, session: Session) -> int:
    """Set ``meta.modified`` of published entities to ``now`` without changing their content.

    For the notifier (DESIGN rule 5): a late webhook first re-stamps what it announces, so a client
    that looks back from the webhook's arrival still finds it. Not a change: no outbox row.
    """
    connection = session.connection()
    count = 0
    for part in _parts(sorted(ids)):
        rows = connection.execute(
            select(PUBLISHED.c.id, PUBLISHED.c.document, PUBLISHED.c.created).where(
                PUBLISHED.c.resource == resource, among(PUBLISHED.c.id, part, session=session)
            )
        ).all()
        for entity_id, document, created in rows:
            connection.execute(
                update(PUBLISHED)
                .where(PUBLISHED.c.resource == resource, PUBLISHED.c.id == entity_id)
                .values(document=render.with_meta(document, created, now), modified=now)
            )
        count += len(rows)
    return count
