"""All models, re-exported so Alembic and callers see one namespace."""

from mailapp.models.account import Account, Project
from mailapp.models.alert import Alert, AlertKind, AlertMailState
from mailapp.models.audit import AuditLog
from mailapp.models.base import Base
from mailapp.models.bounce_reason import BounceAction, BounceReason
from mailapp.models.campaign import Campaign, CampaignStatus, CampaignVariant, Link, ScheduleMode
from mailapp.models.contact import ConsentRecord, Contact, ContactStatus, ContactTag
from mailapp.models.delivery import FINAL_STATUSES, Delivery, DeliveryStatus, Message
from mailapp.models.event import CampaignEngagement, DailyStat, Event, EventType, LinkStat
from mailapp.models.importjob import DuplicatePolicy, ImportJob, ImportProblem, ImportStatus
from mailapp.models.inbound import InboundMessage
from mailapp.models.journey import (
    OPEN_ENROLLMENTS,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStep,
    Journey,
    JourneyCursor,
    JourneyEvent,
    JourneyStatus,
    JourneyVersion,
)
from mailapp.models.lists import List, ListMemberCount, ListMembership, MembershipStatus, OptIn
from mailapp.models.message_log import MessageAttempt, MessageStat, MessageTag
from mailapp.models.segment import Segment, SegmentMember
from mailapp.models.sender import Sender
from mailapp.models.signin import RecoveryCode, UserSession
from mailapp.models.stats import CampaignBreakdown, HourlyStat
from mailapp.models.suppression import Suppression, SuppressionReason
from mailapp.models.template import Asset, Template, TemplateKind, TemplateVersion, VersionStatus
from mailapp.models.user import ApiKey, Membership, Role, User
from mailapp.models.webhook import (
    AttemptStatus,
    EspProvider,
    InboundWebhook,
    ProviderEvent,
    WebhookAttempt,
    WebhookEndpoint,
)

__all__ = [
    "FINAL_STATUSES",
    "OPEN_ENROLLMENTS",
    "Account",
    "Alert",
    "AlertKind",
    "AlertMailState",
    "ApiKey",
    "Asset",
    "AttemptStatus",
    "AuditLog",
    "Base",
    "BounceAction",
    "BounceReason",
    "Campaign",
    "CampaignBreakdown",
    "CampaignEngagement",
    "CampaignStatus",
    "CampaignVariant",
    "ConsentRecord",
    "Contact",
    "ContactStatus",
    "ContactTag",
    "DailyStat",
    "Delivery",
    "DeliveryStatus",
    "DuplicatePolicy",
    "Enrollment",
    "EnrollmentStatus",
    "EnrollmentStep",
    "EspProvider",
    "Event",
    "EventType",
    "HourlyStat",
    "ImportJob",
    "ImportProblem",
    "ImportStatus",
    "InboundMessage",
    "InboundWebhook",
    "Journey",
    "JourneyCursor",
    "JourneyEvent",
    "JourneyStatus",
    "JourneyVersion",
    "Link",
    "LinkStat",
    "List",
    "ListMemberCount",
    "ListMembership",
    "Membership",
    "MembershipStatus",
    "Message",
    "MessageAttempt",
    "MessageStat",
    "MessageTag",
    "OptIn",
    "Project",
    "ProviderEvent",
    "RecoveryCode",
    "Role",
    "ScheduleMode",
    "Segment",
    "SegmentMember",
    "Sender",
    "Suppression",
    "SuppressionReason",
    "Template",
    "TemplateKind",
    "TemplateVersion",
    "User",
    "UserSession",
    "VersionStatus",
    "WebhookAttempt",
    "WebhookEndpoint",
]
