"""The register columns the published documents are made of, read as plain rows (Core, no ORM objects)."""

from __future__ import annotations

from typing import NamedTuple

from dnp.register.models import Duty
from dnp.register.models import Enrolment
from dnp.register.models import Organisation
from dnp.register.models import Person

# Only the columns the documents are made of, as plain rows: a whole year's 225 persons as ORM
# objects (identity map, instrumentation) cost more than rendering and comparing their documents.
PERSON = Person.__table__
ENROLMENT = Enrolment.__table__
DUTY = Duty.__table__
ORGANISATION = Organisation.__table__
PERSON_COLUMNS = [
    PERSON.c[name]
    for name in "id given_name middle_name family_name eppn civic_no security_marking alias_given_name"
    " alias_family_name emails external_identifiers".split()
]


class Enrolled(NamedTuple):
    """What an enrolment document is made of, read beside its person (``render.enrolment_document``)."""

    school_unit_id: str | None
    school_type: str | None
    school_year: int | None
    education_code: str | None
    programme_id: str | None
    cancelled: bool | None


# Read beside the person's columns, in Enrolled's order (labelled: person and enrolment both have an id).
ENROLMENT_JOINED = [ENROLMENT.c[name].label(f"enrolment_{name}") for name in Enrolled._fields]
DUTY_COLUMNS = [DUTY.c.id, DUTY.c.person_id, DUTY.c.school_unit_id, DUTY.c.duty_role]
UNIT_COLUMNS = [
    ORGANISATION.c[name]
    for name in "id display_name school_unit_code organisation_number school_types".split()
]


class Unit(NamedTuple):
    """What the documents need of a school unit with a ready group."""

    id: str
    skolverket_id: str
    display_name: str
    school_unit_code: str | None
    school_types: list[str] | None
