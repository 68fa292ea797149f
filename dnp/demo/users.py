"""Demo personas for development sign-in, with the roles demo data grants them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session
from sqlmodel import select

from dnp.auth import roles as access
from dnp.auth.models import Role
from dnp.auth.models import RoleGrant
from dnp.demo.generator import DOMAIN
from dnp.register.models import Duty
from dnp.register.models import Organisation
from dnp.register.models import Person

CENTRAL_ADMIN = f"central.admin@{DOMAIN}"
OPERATOR = f"jour@{DOMAIN}"
NO_ROLE = f"utan.roll@{DOMAIN}"


@dataclass
class DemoUser:
    """A persona on the development sign-in page."""

    eppn: str
    label: str
    role: str


def grant_demo_roles(actor: str, *, session: Session) -> None:
    """Central admin, operator, and each unit's school administrator as unit admin."""
    access.grant_role(actor, CENTRAL_ADMIN, Role.CENTRAL_ADMIN, session=session)
    access.grant_role(actor, OPERATOR, Role.OPERATOR, session=session)
    for person_eppn, unit_id in _unit_administrators(session=session):
        access.grant_role(actor, person_eppn, Role.UNIT_ADMIN, [unit_id], session=session)


def _unit_administrators(*, session: Session) -> list[tuple[str, str]]:
    rows = session.exec(
        select(Person.eppn, Duty.school_unit_id)
        .join(Duty, Duty.person_id == Person.id)
        .where(Duty.duty_role == "Skoladministratör", Person.eppn.is_not(None))
        .order_by(Duty.school_unit_id)
    ).all()
    return [(eppn, unit_id) for eppn, unit_id in rows]


def demo_users(limit: int = 8, *, session: Session) -> list[DemoUser]:
    """Personas to offer on the development sign-in page."""
    users = [
        DemoUser(CENTRAL_ADMIN, "Centraladministratör (förvaltningen)", "Central administratör"),
        DemoUser(OPERATOR, "Jourhavande drift", "Driftansvarig"),
    ]
    rows = session.exec(
        select(RoleGrant.eppn, Organisation.display_name)
        .join(Organisation, Organisation.id == RoleGrant.school_unit_id)
        .where(RoleGrant.role == Role.UNIT_ADMIN)
        .order_by(Organisation.display_name)
        .limit(limit)
    ).all()
    names = access.display_names({eppn for eppn, _ in rows}, session=session)
    for eppn, unit_name in rows:
        users.append(DemoUser(eppn, f"{names.get(eppn, eppn)} – {unit_name}", "Skolenhetsadministratör"))
    users.append(DemoUser(NO_ROLE, "Inloggad utan roll", "Ingen roll"))
    return users
