"""SQL helpers every area may use (no area's models: dnp.common sits outside the flow)."""

from __future__ import annotations

from sqlalchemy import ARRAY
from sqlalchemy import any_
from sqlalchemy import bindparam
from sqlalchemy.orm import Session


def among(column, values, *, session: Session):
    """``column IN values``; on PostgreSQL one array parameter (``= ANY``) instead of one per value.

    A list of a few hundred ids as separate parameters makes a new statement text for every length,
    which SQLAlchemy renders and psycopg parses anew each time: more CPU than running the query.
    (The same as ``publication.store.among``, for areas that may not call the publication.)
    """
    values = list(values)
    if session.connection().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)
