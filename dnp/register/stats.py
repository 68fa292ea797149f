"""Counts over the register, for the start page and operators (no personal data)."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select
from sqlmodel import Session

from dnp.register.models import Duty
from dnp.register.models import Organisation
from dnp.register.models import Person
from dnp.register.models import RegisterGroup


def register_counts(*, session: Session) -> dict[str, int]:
    """How many school units, persons, duties and groups the register holds."""
    connection = session.connection()

    def count(query) -> int:
        return connection.execute(query).scalar_one()

    return {
        "school_units": count(
            select(func.count())
            .select_from(Organisation)
            .where(Organisation.organisation_type == "Skolenhet")
        ),
        "persons": count(select(func.count()).select_from(Person)),
        "duties": count(select(func.count()).select_from(Duty)),
        "groups": count(select(func.count()).select_from(RegisterGroup)),
    }


def school_units(*, session: Session) -> list[Organisation]:
    """Every school unit, by name (what roles can be granted for)."""
    query = select(Organisation).where(Organisation.organisation_type == "Skolenhet")
    return list(session.execute(query.order_by(Organisation.display_name)).scalars())
