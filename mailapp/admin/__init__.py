"""The Flask-Admin back office: every view checks a permission and the current project."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from mailapp.admin import context, display
from mailapp.admin.index import HomeView


def init_app(app: Flask) -> None:
    admin = Admin(
        app,
        name="mailapp",
        index_view=HomeView(name="Home", url="/admin"),
        theme=Bootstrap4Theme(
            swatch="default", fluid=True, base_template="admin/mailapp_base.html"
        ),
    )
    app.extensions["mailapp_admin"] = admin
    app.add_template_global(context.available_projects, "mailapp_projects")
    app.add_template_global(context.current_project_or_none, "mailapp_current_project")
    app.add_template_global(context.current_role, "mailapp_current_role")
    display.init_app(app)
    _add_views(admin)


def _add_views(admin: Admin) -> None:
    """One line per view, in menu order."""
    from mailapp import models as m
    from mailapp.admin.account import AccountView
    from mailapp.admin.account_security import AccountSecurityView
    from mailapp.admin.alerts import AlertsView
    from mailapp.admin.analytics import AnalyticsView
    from mailapp.admin.apidocs import ApiDocsView
    from mailapp.admin.apikeys import ApiKeyAdmin
    from mailapp.admin.assets import AssetsView
    from mailapp.admin.audit import AuditLogAdmin
    from mailapp.admin.brand_settings import BrandView
    from mailapp.admin.campaigns import CampaignAdmin
    from mailapp.admin.contacts import ContactAdmin
    from mailapp.admin.dkim import DkimView
    from mailapp.admin.domains import DomainSetupView
    from mailapp.admin.guardrails import GuardrailsView
    from mailapp.admin.imports import ImportView
    from mailapp.admin.inbound import StrayInboundAdmin
    from mailapp.admin.journeys import JourneysView
    from mailapp.admin.lists import ListAdmin
    from mailapp.admin.message_dashboard import MessageDashboardView
    from mailapp.admin.messages import MessageLogView
    from mailapp.admin.outbox import OutboxView
    from mailapp.admin.projects import ProjectAdmin
    from mailapp.admin.roles import RolesView
    from mailapp.admin.security import SecurityView
    from mailapp.admin.segments import SegmentAdmin
    from mailapp.admin.senders import SenderAdmin
    from mailapp.admin.sending import SendingView
    from mailapp.admin.settings import SendingRulesView
    from mailapp.admin.suppression import SuppressionAdmin
    from mailapp.admin.templates import TemplateAdmin
    from mailapp.admin.transports import TransportsView
    from mailapp.admin.users import MembershipAdmin
    from mailapp.admin.visual_editor import VisualEditorView
    from mailapp.admin.warmup import WarmupView
    from mailapp.admin.webhooks import (
        InboundMessageAdmin,
        InboundWebhookAdmin,
        ProviderEventAdmin,
        WebhookAttemptAdmin,
        WebhookEndpointAdmin,
    )

    audience, content, settings = "Audience", "Content", "Settings"
    admin.add_view(ContactAdmin(m.Contact, name="Contacts", category=audience))
    admin.add_view(ListAdmin(m.List, name="Lists", category=audience))
    admin.add_view(SegmentAdmin(m.Segment, name="Segments", category=audience))
    admin.add_view(SuppressionAdmin(m.Suppression, name="Suppression list", category=audience))
    admin.add_view(ImportView(name="Import CSV", endpoint="imports", category=audience))
    admin.add_view(InboundMessageAdmin(m.InboundMessage, name="Returned mail", category=audience))
    admin.add_view(TemplateAdmin(m.Template, name="Templates", category=content))
    admin.add_view(AssetsView(name="Assets", endpoint="asset_library", category=content))
    admin.add_view(
        VisualEditorView(name="Visual editor", endpoint="visual_editor", url="/admin/visual")
    )
    admin.add_view(CampaignAdmin(m.Campaign, name="Campaigns"))
    admin.add_view(JourneysView(name="Journeys", endpoint="journeys"))
    admin.add_view(SendingView(name="Sending", endpoint="sending"))
    admin.add_view(AnalyticsView(name="Analytics", endpoint="analytics"))
    transactional = "Transactional"
    admin.add_view(MessageLogView(name="Activity log", endpoint="messages", category=transactional))
    admin.add_view(
        MessageDashboardView(name="Dashboard", endpoint="message_stats", category=transactional)
    )
    admin.add_view(SenderAdmin(m.Sender, name="Senders", category=settings))
    admin.add_view(DkimView(name="DKIM keys", endpoint="dkim", category=settings))
    admin.add_view(DomainSetupView(name="Domain set-up", endpoint="domains", category=settings))
    admin.add_view(WarmupView(name="Warm-up", endpoint="warmup", category=settings))
    admin.add_view(TransportsView(name="Transports", endpoint="transports", category=settings))
    admin.add_view(SendingRulesView(name="Sending rules", endpoint="settings", category=settings))
    admin.add_view(BrandView(name="Brand", endpoint="brand", category=settings))
    admin.add_view(GuardrailsView(name="Guardrails", endpoint="guardrails", category=settings))
    admin.add_view(AlertsView(name="Alerts", endpoint="alerts", category=settings))
    admin.add_view(WebhookEndpointAdmin(m.WebhookEndpoint, name="Webhooks", category=settings))
    admin.add_view(WebhookAttemptAdmin(m.WebhookAttempt, name="Webhook history", category=settings))
    admin.add_view(InboundWebhookAdmin(m.InboundWebhook, name="ESP webhooks", category=settings))
    admin.add_view(ProviderEventAdmin(m.ProviderEvent, name="ESP events", category=settings))
    admin.add_view(MembershipAdmin(m.Membership, name="Users", category=settings))
    admin.add_view(SecurityView(name="Security", endpoint="security", category=settings))
    admin.add_view(ApiKeyAdmin(m.ApiKey, name="API keys", category=settings))
    admin.add_view(ProjectAdmin(m.Project, name="Project", category=settings))
    admin.add_view(RolesView(name="Roles", endpoint="roles", category=settings))
    admin.add_view(ApiDocsView(name="API docs", endpoint="api_docs", category=settings))
    admin.add_view(AuditLogAdmin(m.AuditLog, name="Audit log", endpoint="auditlog"))
    if admin.app.config["DEV_OUTBOX"]:  # elsewhere the Outbox's URLs do not exist at all
        admin.add_view(OutboxView(name="Outbox", endpoint="outbox"))
    admin.add_view(AccountView(name="My account", endpoint="account"))
    admin.add_view(
        AccountSecurityView(
            name="Sign-in security", endpoint="account_security", url="/admin/account/security"
        )
    )
    admin.add_view(
        StrayInboundAdmin(
            m.InboundMessage, name="Stray returned mail", endpoint="strayinbound", category=audience
        )
    )
