"""All table models, importable from one place (Alembic reads ``SQLModel.metadata``)."""

from dnp.models.access import ROLES
from dnp.models.access import LoginSession
from dnp.models.access import RoleGrant
from dnp.models.access import UserAccount
from dnp.models.audit import AuditEvent
from dnp.models.delivery import ClientCredential
from dnp.models.delivery import ConnectionCheck
from dnp.models.delivery import Delivery
from dnp.models.delivery import WebhookCursor
from dnp.models.feedback import ApiCall
from dnp.models.feedback import FeedbackLog
from dnp.models.feedback import FeedbackStatistics
from dnp.models.publication import CentralSetting
from dnp.models.publication import DeletedEntity
from dnp.models.publication import Outbox
from dnp.models.publication import PublishedEntity
from dnp.models.publication import Subscription
from dnp.models.register import Duty
from dnp.models.register import Enrolment
from dnp.models.register import Organisation
from dnp.models.register import Person
from dnp.models.register import RegisterGroup
from dnp.models.register import RegisterGroupMembership
from dnp.models.register import skolverket_id
from dnp.models.saml import SamlRequest
from dnp.models.saml import UsedAssertion
from dnp.models.testing import GROUP_STATUSES
from dnp.models.testing import BackgroundTask
from dnp.models.testing import TestActivity
from dnp.models.testing import TestGroup
from dnp.models.testing import TestGroupMember
from dnp.models.testing import TestGroupSource
from dnp.models.testing import TestOccasion

__all__ = [
    "ClientCredential",
    "ConnectionCheck",
    "Delivery",
    "WebhookCursor",
    "GROUP_STATUSES",
    "BackgroundTask",
    "TestActivity",
    "TestGroup",
    "TestGroupMember",
    "TestGroupSource",
    "TestOccasion",
    "ROLES",
    "LoginSession",
    "RoleGrant",
    "UserAccount",
    "AuditEvent",
    "ApiCall",
    "FeedbackLog",
    "FeedbackStatistics",
    "CentralSetting",
    "DeletedEntity",
    "Outbox",
    "PublishedEntity",
    "Subscription",
    "Duty",
    "Enrolment",
    "Organisation",
    "Person",
    "RegisterGroup",
    "RegisterGroupMembership",
    "skolverket_id",
    "SamlRequest",
    "UsedAssertion",
]

# Area packages keep their own models; imported here so that they are in ``SQLModel.metadata`` too.
import dnp.delivery.push.models  # noqa: E402, F401
