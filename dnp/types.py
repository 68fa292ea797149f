"""Column types shared by the models."""

from __future__ import annotations

import hashlib
from datetime import UTC
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Store UTC; naive values are taken as UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def one_of(table: str, column: str, values: type[StrEnum], *also: str) -> CheckConstraint:
    """A CHECK that ``column`` holds one of the enum's values (or ``also``), named ``ck_<table>_<column>``.

    Migration 0010c writes the same constraints out by value (a migration must not change when an enum does).
    """
    allowed = ", ".join(f"'{value}'" for value in (*values, *also))
    return CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{table}_{column}")


def utcnow() -> datetime:
    """Now, in UTC, aware."""
    return datetime.now(UTC)


# JSONB on PostgreSQL (indexable, compact); plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class current_transaction_id(FunctionElement):  # noqa: N801 - used like a SQL function
    """The id of the writing transaction as a number (PostgreSQL's ``xid8``); NULL on SQLite.

    PostgreSQL hands out sequence values in one order and makes rows visible in another (commit
    order); the outbox reader needs the writer's transaction to know which rows can still appear.
    SQLite serialises writers, so its ids are in commit order and it needs none.
    """

    type = BigInteger()
    inherit_cache = True


@compiles(current_transaction_id, "postgresql")
def _current_transaction_id_postgresql(element, compiler, **kw) -> str:
    return "(pg_current_xact_id()::text::bigint)"


@compiles(current_transaction_id)
def _current_transaction_id_other(element, compiler, **kw) -> str:
    return "NULL"


def stamp(moment: datetime) -> str:
    """``meta`` time format: UTC to the microsecond as stored, ``2026-11-28T10:30:00.123456Z``.

    Full precision, so a client that sends a served time back as a filter gets exactly the
    inclusive comparison it asked for.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def text_hash(text: str) -> str:
    """SHA-256 of a stored document."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
