"""Roles and permissions: one declarative table read by the back office, the API and tests."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from mailapp.models import Role


class Permission(enum.StrEnum):
    CONTACTS_READ = "contacts.read"
    CONTACTS_WRITE = "contacts.write"
    CONTACTS_IMPORT = "contacts.import"
    CONTACTS_DELETE = "contacts.delete"
    CONTACTS_EXPORT = "contacts.export"
    GDPR_ERASE = "gdpr.erase"
    SUPPRESSION_MANAGE = "suppression.manage"
    TEMPLATES_WRITE = "templates.write"
    TEMPLATES_PUBLISH = "templates.publish"
    CAMPAIGNS_WRITE = "campaigns.write"
    CAMPAIGNS_SEND = "campaigns.send"
    SENDERS_MANAGE = "senders.manage"
    WEBHOOKS_MANAGE = "webhooks.manage"
    USERS_MANAGE = "users.manage"
    APIKEYS_MANAGE = "apikeys.manage"
    AUDIT_READ = "audit.read"
    ANALYTICS_READ = "analytics.read"
    PROJECTS_MANAGE = "projects.manage"
    MESSAGES_READ = "messages.read"
    MESSAGES_RESEND = "messages.resend"
    ALERTS_MANAGE = "alerts.manage"
    JOURNEYS_READ = "journeys.read"
    JOURNEYS_WRITE = "journeys.write"
    EVENTS_WRITE = "events.write"


P = Permission

# What each role may do inside a project it is a member of. Superusers may do everything
# everywhere; nobody else gets a permission that is not written here.
ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission) - {P.PROJECTS_MANAGE},
    Role.MARKETER: frozenset(
        {
            P.CONTACTS_READ,
            P.CONTACTS_WRITE,
            P.CONTACTS_IMPORT,
            P.CONTACTS_EXPORT,
            P.TEMPLATES_WRITE,
            P.CAMPAIGNS_WRITE,
            P.CAMPAIGNS_SEND,
            P.ANALYTICS_READ,
            P.MESSAGES_READ,
            P.JOURNEYS_READ,
            P.JOURNEYS_WRITE,
            P.EVENTS_WRITE,
        }
    ),
    Role.ANALYST: frozenset({P.CONTACTS_READ, P.ANALYTICS_READ}),
    Role.SUPPORT: frozenset(
        {
            P.CONTACTS_READ,
            P.CONTACTS_WRITE,
            P.GDPR_ERASE,
            P.SUPPRESSION_MANAGE,
            P.MESSAGES_READ,
            P.MESSAGES_RESEND,
        }
    ),
}

# One line per permission for the read-only "Roles" page and the API documentation.
DESCRIPTIONS: Mapping[Permission, str] = {
    P.CONTACTS_READ: "See contacts, lists, segments and the suppression list",
    P.CONTACTS_WRITE: "Create and edit contacts, lists, segments and suppressions",
    P.CONTACTS_IMPORT: "Import contacts from CSV files",
    P.CONTACTS_DELETE: "Delete contacts",
    P.CONTACTS_EXPORT: "Export contacts and lists",
    P.GDPR_ERASE: "Erase a person's data (GDPR)",
    P.SUPPRESSION_MANAGE: "Add addresses to the suppression list (lifting needs contacts.delete)",
    P.TEMPLATES_WRITE: "Edit templates and submit drafts for review",
    P.TEMPLATES_PUBLISH: "Review and publish template drafts (someone else's, unless the "
    "project allows self-approval)",
    P.CAMPAIGNS_WRITE: "See, create and edit campaigns",
    P.CAMPAIGNS_SEND: "Launch, pause and cancel campaigns",
    P.SENDERS_MANAGE: "Manage sending identities, DKIM keys and transports",
    P.WEBHOOKS_MANAGE: "Manage outbound webhook endpoints",
    P.USERS_MANAGE: "Invite users, change their roles, deactivate them",
    P.APIKEYS_MANAGE: "Create and revoke API keys",
    P.AUDIT_READ: "Read the audit log",
    P.ANALYTICS_READ: "See campaign reports and statistics",
    P.PROJECTS_MANAGE: "Change the project's settings",
    P.MESSAGES_READ: "See the transactional activity log and each message's history "
    "(addresses masked without contacts.read)",
    P.MESSAGES_RESEND: "Resend a transactional message (as a new message)",
    P.ALERTS_MANAGE: "Choose which alerts the owners get, their thresholds and extra recipients",
    P.JOURNEYS_READ: "See journeys, their step counts and who is in them",
    P.JOURNEYS_WRITE: "Put contacts into a journey or take them out",
    P.EVENTS_WRITE: "Send events (e.g. cart_abandoned) that start or move journeys",
}


def permissions_for(role: Role | str | None) -> frozenset[Permission]:
    """The permissions a role grants; none for an unknown or missing role."""
    if role is None:
        return frozenset()
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def role_has(role: Role | str | None, permission: Permission | str) -> bool:
    """Whether a role grants a permission."""
    return permission in permissions_for(role)
