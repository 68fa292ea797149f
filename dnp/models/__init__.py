"""All table models, importable from one place (Alembic reads ``SQLModel.metadata``)."""

from dnp.models.access import ROLES
from dnp.models.access import LoginSession
from dnp.models.access import RoleGrant
from dnp.models.access import UserAccount
from dnp.models.audit import AuditEvent
from dnp.models.register import Duty
from dnp.models.register import Enrolment
from dnp.models.register import Organisation
from dnp.models.register import Person
from dnp.models.register import RegisterGroup
from dnp.models.register import RegisterGroupMembership
from dnp.models.register import skolverket_id

__all__ = [
    "ROLES",
    "LoginSession",
    "RoleGrant",
    "UserAccount",
    "AuditEvent",
    "Duty",
    "Enrolment",
    "Organisation",
    "Person",
    "RegisterGroup",
    "RegisterGroupMembership",
    "skolverket_id",
]
