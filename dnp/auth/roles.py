"""Roles and login sessions: who may manage which school units."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import or_
from sqlmodel import Session
from sqlmodel import select

from dnp.audit import trail
from dnp.auth.models import Role
from dnp.auth.models import RoleGrant
from dnp.auth.models import UserAccount
from dnp.common import identifiers
from dnp.common.people import person_label
from dnp.common.people import person_sort_key
from dnp.common.people import shown_eppn
from dnp.register.models import Organisation
from dnp.register.models import OrganisationType
from dnp.register.models import Person

ROLE_NAMES = {
    Role.CENTRAL_ADMIN: "Central administratör",
    Role.UNIT_ADMIN: "Skolenhetsadministratör",
    Role.OPERATOR: "Driftansvarig",
}


def normalise_eppn(eppn: str) -> str:
    """The form DNP keys grants, accounts and sessions by: trimmed and lower-cased.

    The scope is a domain, and IdPs and registers differ in the case they send; ``Anna@Skola.se`` and
    ``anna@skola.se`` are one person, who must not sign in as a stranger without a role.
    """
    return eppn.strip().lower()


def register_person(eppn: str, *, session: Session) -> Person | None:
    """The register's person with this EPPN, in any letter case (a protected one first, to be safe)."""
    persons = session.exec(select(Person).where(func.lower(Person.eppn) == normalise_eppn(eppn))).all()
    return min(persons, key=lambda person: (person.security_marking == "Ingen", person.id), default=None)


class AccessError(ValueError):
    """A grant or revocation that cannot be done; the message is for the user (Swedish)."""


@dataclass(frozen=True)
class Access:
    """What one signed-in person may do."""

    eppn: str
    central_admin: bool = False
    operator: bool = False
    unit_ids: frozenset[str] = frozenset()

    @property
    def has_any_role(self) -> bool:
        """True when the person may use some part of the module."""
        return self.central_admin or self.operator or bool(self.unit_ids)

    @property
    def manages_units(self) -> bool:
        """True for central and school-unit administrators."""
        return self.central_admin or bool(self.unit_ids)

    def may_manage(self, unit_id: str | None) -> bool:
        """True when the person may build test groups at ``unit_id``."""
        return self.central_admin or (unit_id is not None and unit_id in self.unit_ids)

    def has(self, role: str) -> bool:
        """True when the person holds ``role``."""
        if role == Role.UNIT_ADMIN:
            return bool(self.unit_ids)
        return getattr(self, role)


def access_for(eppn: str, *, session: Session) -> Access:
    """Collect an EPPN's grants (whatever its letter case)."""
    eppn = normalise_eppn(eppn)
    grants = session.exec(select(RoleGrant).where(RoleGrant.eppn == eppn)).all()
    return Access(
        eppn=eppn,
        central_admin=any(g.role == Role.CENTRAL_ADMIN for g in grants),
        operator=any(g.role == Role.OPERATOR for g in grants),
        unit_ids=frozenset(
            g.school_unit_id for g in grants if g.role == Role.UNIT_ADMIN and g.school_unit_id
        ),
    )


def grant_role(actor: str, eppn: str, role: str, unit_ids: list[str] = (), *, session: Session) -> int:
    """Grant ``role`` (per unit for school-unit administrators); return how many grants are new."""
    eppn = normalise_eppn(eppn)
    if not identifiers.is_eppn(eppn):
        raise AccessError("Ange en giltig EPPN, t.ex. anna.andersson@skola.se.")
    if role not in tuple(Role):
        raise AccessError("Välj en roll.")
    if role == Role.UNIT_ADMIN:
        if not unit_ids:
            raise AccessError("Välj minst en skolenhet.")
        found = session.exec(
            select(Organisation.id).where(
                Organisation.id.in_(unit_ids), Organisation.organisation_type == OrganisationType.SKOLENHET
            )
        ).all()
        if len(set(found)) != len(set(unit_ids)):
            raise AccessError("En eller flera skolenheter finns inte.")
        targets = sorted(set(unit_ids))
    else:
        targets = [None]
    added = 0
    for unit_id in targets:
        exists = session.exec(
            select(RoleGrant).where(
                RoleGrant.eppn == eppn, RoleGrant.role == role, RoleGrant.school_unit_id == unit_id
            )
        ).first()
        if exists:
            continue
        grant = RoleGrant(eppn=eppn, role=role, school_unit_id=unit_id, granted_by=actor)
        session.add(grant)
        session.flush()
        after = {"eppn": eppn, "role": role, "school_unit_id": unit_id}
        trail.record(actor, "access.granted", "RoleGrant", str(grant.id), after=after, session=session)
        added += 1
    return added


def revoke_grant(actor: str, grant_id: int, *, session: Session) -> RoleGrant:
    """Remove one grant; a central administrator cannot remove their own central role."""
    grant = session.get(RoleGrant, grant_id)
    if grant is None:
        raise LookupError(grant_id)
    if grant.role == Role.CENTRAL_ADMIN and grant.eppn == normalise_eppn(actor):
        raise AccessError("Du kan inte ta bort din egen roll som central administratör.")
    before = {"eppn": grant.eppn, "role": grant.role, "school_unit_id": grant.school_unit_id}
    session.delete(grant)
    trail.record(actor, "access.revoked", "RoleGrant", str(grant_id), before=before, session=session)
    return grant


def list_grants(*, session: Session) -> list[tuple[RoleGrant, str | None, str]]:
    """Every grant with its unit name and the grantee's display name."""
    rows = session.exec(
        select(RoleGrant, Organisation.display_name)
        .join(Organisation, Organisation.id == RoleGrant.school_unit_id, isouter=True)
        .order_by(RoleGrant.eppn, RoleGrant.role, Organisation.display_name)
    ).all()
    names = display_names({grant.eppn for grant, _ in rows}, session=session)
    return [(grant, unit_name, names.get(grant.eppn, "")) for grant, unit_name in rows]


def display_names(eppns: set[str], *, session: Session) -> dict[str, str]:
    """Names to show for EPPNs: the register's (alias for protected persons), else the IdP's.

    The IdP's name is never used for someone the register knows: for a protected person it is the real
    name. Nor is the alias shown for an EPPN that holds the real name (it would tie the two together).
    """
    wanted = {normalise_eppn(eppn): eppn for eppn in eppns}
    if not wanted:
        return {}
    names = {
        wanted[account.eppn]: account.display_name
        for account in session.exec(select(UserAccount).where(UserAccount.eppn.in_(list(wanted)))).all()
    }
    persons = session.exec(select(Person).where(func.lower(Person.eppn).in_(list(wanted)))).all()
    for person in sorted(persons, key=lambda person: person.security_marking == "Ingen", reverse=True):
        names[wanted[normalise_eppn(person.eppn)]] = person_label(person) if shown_eppn(person) else ""
    return names


def find_people(query: str, limit: int = 10, *, session: Session) -> list[tuple[str, str, bool]]:
    """People to grant roles to, by EPPN or name: (eppn, label, protected).

    A protected person is found only by what DNP shows of them (alias, a name-free EPPN), never by the
    real name, an EPPN that holds it, or a name their IdP sent; results are in the order shown.
    """
    needle = query.strip().lower()
    if len(needle) < 2:
        return []
    pattern = f"%{needle}%"
    with_eppn = select(Person).where(Person.eppn.is_not(None))
    unprotected = session.exec(
        with_eppn.where(
            Person.security_marking == "Ingen",
            or_(Person.eppn.ilike(pattern), (Person.given_name + " " + Person.family_name).ilike(pattern)),
        )
        .order_by(Person.family_name, Person.given_name, Person.id)
        .limit(limit)
    ).all()
    # Few persons are protected: match them in Python, on exactly what is shown of them.
    protected = [
        person
        for person in session.exec(
            with_eppn.where(
                Person.security_marking != "Ingen",
                or_(
                    Person.eppn.ilike(pattern),
                    (Person.alias_given_name + " " + Person.alias_family_name).ilike(pattern),
                ),
            )
        ).all()
        # Never offered with an EPPN that holds the real name: the hit would show it beside the alias.
        if (eppn := shown_eppn(person)) and (needle in person_label(person).lower() or needle in eppn.lower())
    ]
    persons = sorted(unprotected + protected, key=person_sort_key)[:limit]
    found = [(p.eppn, person_label(p), p.security_marking != "Ingen") for p in persons]
    if len(found) < limit:
        # Signed-in people the register does not know; a register person is found above or not at all.
        registered = func.lower(Person.eppn) == UserAccount.eppn
        accounts = session.exec(
            select(UserAccount)
            .where(or_(UserAccount.eppn.ilike(pattern), UserAccount.display_name.ilike(pattern)))
            .where(~select(Person.id).where(registered).exists())
            .order_by(UserAccount.display_name, UserAccount.eppn)
            .limit(limit - len(found))
        ).all()
        found += [(a.eppn, a.display_name, False) for a in accounts]
    return found
