"""Register ingest: validate every item, then write all or nothing (API and file import)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Table
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from dnp.audit import trail
from dnp.common.request_input import BadText
from dnp.common.request_input import is_storable
from dnp.common.sql import among
from dnp.common.sql import insert_rows
from dnp.groups.sync import after_register_change
from dnp.register.checks import KIND_SWEDISH
from dnp.register.checks import ReferenceChecker
from dnp.register.items import PreparedItem
from dnp.register.items import prepare_batch
from dnp.register.models import Duty
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import Person
from dnp.register.models import RegisterGroup
from dnp.register.models import RegisterGroupMembership
from dnp.register.results import ENTITY_NAMES
from dnp.register.results import IngestRejected
from dnp.register.results import IngestSummary
from dnp.register.results import Problem
from dnp.types import utcnow

MAIN_TABLES: dict[str, Table] = {
    "organisations": Organisation.__table__,
    "persons": Person.__table__,
    "duties": Duty.__table__,
    "groups": RegisterGroup.__table__,
}
CHILD_TABLES: dict[str, tuple[Table, str]] = {
    "persons": (Enrolment.__table__, "person_id"),
    "groups": (RegisterGroupMembership.__table__, "group_id"),
}
MAX_LISTED_PROBLEMS = 1000
# What a parallel write of the same rows can cause: a key taken meanwhile (unique, foreign key), a
# deadlock or serialization failure (PostgreSQL), a lock held too long (SQLite).
_RACE_SQLSTATES = {"23505", "23503", "40001", "40P01"}
_RACE_SQLITE = {
    "SQLITE_CONSTRAINT_PRIMARYKEY",
    "SQLITE_CONSTRAINT_UNIQUE",
    "SQLITE_CONSTRAINT_FOREIGNKEY",
    "SQLITE_BUSY",
    "SQLITE_BUSY_SNAPSHOT",
    "SQLITE_LOCKED",
}
CHUNK = 500
UNSTORABLE_TEXT = "otillåtna tecken i texten: kontrolltecken NUL eller ensamt surrogattecken"
UNSTORABLE_KEY = "otillåtna tecken i en nyckel: kontrolltecken NUL eller ensamt surrogattecken"


def chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    """Split a list for IN (...) queries that every backend accepts."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class RegisterIngest:
    """Validates and writes batches in the caller's transaction; the caller commits.

    Later batches are still validated after a problem, so the answer lists every problem,
    but nothing more is written and ``finish`` raises so the caller rolls back.
    """

    def __init__(self, actor: str, mode: str = "upsert", *, session: Session):
        if mode not in ("create", "upsert"):
            raise ValueError(mode)
        self.session = session
        self.actor = actor
        self.mode = mode
        self.problems: list[Problem] = []
        self.problem_count = 0
        self.summary = IngestSummary()
        self.references = ReferenceChecker(session=session)

    def _problem(self, *args, conflict: bool = False) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(Problem(*args, conflict=conflict))

    def add_batch(self, kind: str, items: list, offset: int = 0) -> None:
        """Validate ``items`` of ``kind`` (``offset`` = index of the first) and write them if all is well."""
        self.add_prepared(kind, prepare_batch(kind, items, offset))

    def add_prepared(self, kind: str, prepared: list[PreparedItem]) -> None:
        """Record the problems of items already checked one by one, check them together and against the
        register, and write them if all is well."""
        valid: list[PreparedItem] = []
        for entry in prepared:
            item_id = entry.item.get("id") if isinstance(entry.item, dict) else None
            for path, message in entry.problems:
                self._problem(kind, entry.index, item_id if isinstance(item_id, str) else None, path, message)
            if not entry.problems:
                valid.append(entry)
            elif isinstance(item_id, str):
                # Known to the input: later references to it are not also reported as dangling.
                self.references.seen[kind].add(item_id)
        checked = [(entry.index, entry.item) for entry in valid]
        for args, conflict in self.references.check(kind, checked, self.mode):
            self._problem(kind, *args, conflict=conflict)
        if self.problem_count == 0:
            self._write(kind, valid)

    def finish(self) -> IngestSummary:
        """Raise ``IngestRejected`` if anything was wrong, else return the summary."""
        if self.problem_count:
            raise IngestRejected(self.problems, self.problem_count)
        return self.summary

    def _write(self, kind: str, valid: list[PreparedItem]) -> None:
        if not valid:
            return
        table = MAIN_TABLES[kind]
        now = utcnow()
        # Written in the order sent: an item may refer to an earlier one of its kind (a school unit to its
        # huvudman). Two requests locking the same rows in different orders may deadlock; that is a race
        # like any other and the request is run again (is_write_race).
        rows = [entry.rows for entry in valid]
        existing: dict[str, str] = {}
        for part in chunks([row["id"] for row, _ in rows]):
            wanted = among(table.c.id, part, session=self.session)
            query = select(table.c.id, table.c.source_hash).where(wanted)
            existing.update(self.session.connection().execute(query).all())
        if self.mode == "create" and existing:
            # Committed by a parallel request since the check (a SIS retrying): POST still only creates,
            # so this request is the conflict, not an "unchanged" success.
            message = f"{KIND_SWEDISH[kind]} finns redan (POST skapar bara nya; använd PUT)"
            for entry in valid:
                if entry.item["id"] in existing:
                    self._problem(kind, entry.index, entry.item["id"], "id", message, conflict=True)
            return
        inserts = [(row, children) for row, children in rows if row["id"] not in existing]
        updates = [
            (row, children)
            for row, children in rows
            if row["id"] in existing and existing[row["id"]] != row["source_hash"]
        ]
        connection = self.session.connection()
        created = [{**row, "created": now, "modified": now} for row, _ in inserts]
        insert_rows(table, created, session=self.session)
        if updates:
            update_ids = [row["id"] for row, _ in updates]
            if kind == "persons":
                # Null EPPNs first so two persons may swap EPPNs within one request.
                for part in chunks(update_ids):
                    connection.execute(
                        update(table).where(among(table.c.id, part, session=self.session)).values(eppn=None)
                    )
            columns = [name for name in updates[0][0] if name != "id"]
            statement = (
                update(table)
                .where(table.c.id == bindparam("_id"))
                .values({name: bindparam(name) for name in columns + ["modified"]})
            )
            connection.execute(statement, [{**row, "_id": row["id"], "modified": now} for row, _ in updates])
        if kind in CHILD_TABLES:
            child_table, parent_column = CHILD_TABLES[kind]
            for part in chunks([row["id"] for row, _ in updates]):
                connection.execute(
                    delete(child_table).where(among(child_table.c[parent_column], part, session=self.session))
                )
            children = [child for _, kids in inserts + updates for child in kids]
            insert_rows(child_table, children, session=self.session)
        self.summary.created[kind] += len(inserts)
        self.summary.updated[kind] += len(updates)
        self.summary.unchanged[kind] += len(rows) - len(inserts) - len(updates)
        self.summary.changed_ids[kind] += [row["id"] for row, _ in inserts + updates]
        entity = ENTITY_NAMES[kind]
        created_ids = [row["id"] for row, _ in inserts]
        updated_ids = [row["id"] for row, _ in updates]
        trail.record_many(self.actor, "register.created", entity, created_ids, now, session=self.session)
        trail.record_many(self.actor, "register.updated", entity, updated_ids, now, session=self.session)


def ingest_items(kind: str, items: list, actor: str, mode: str, *, session: Session) -> IngestSummary:
    """Validate and store one request's items of one kind, all or nothing."""
    ingest = RegisterIngest(actor, mode, session=session)
    ingest.add_batch(kind, items)
    summary = ingest.finish()
    after_register_change(summary.changed_ids, session=session)
    return summary


def unstorable_rejected(kind: str, body: object, bad: list[BadText]) -> IngestRejected:
    """The rejection of a request whose text cannot be stored, one problem per place (item and field)."""
    problems = []
    items = body.get(kind) if isinstance(body, dict) else None
    for place in bad:
        index, field_path = None, place.path
        if place.path[:1] == (kind,) and len(place.path) > 1 and isinstance(place.path[1], int):
            index, field_path = place.path[1], place.path[2:]
        item = items[index] if index is not None and isinstance(items, list) else None
        item_id = item.get("id") if isinstance(item, dict) else None
        problems.append(
            Problem(
                kind,
                index,
                item_id if isinstance(item_id, str) and is_storable(item_id) else None,
                ".".join(str(part) for part in field_path),
                UNSTORABLE_KEY if place.in_key else UNSTORABLE_TEXT,
            )
        )
    return IngestRejected(problems[:MAX_LISTED_PROBLEMS], len(problems))


def is_write_race(error: DBAPIError) -> bool:
    """True for a database error that a parallel request writing the same rows causes: running the
    request again sees the other one's committed result and answers as if they had come in turn."""
    if not isinstance(error, IntegrityError | OperationalError):
        return False
    driver_error = error.orig
    return (
        getattr(driver_error, "sqlstate", None) in _RACE_SQLSTATES
        or getattr(driver_error, "sqlite_errorname", None) in _RACE_SQLITE
    )
