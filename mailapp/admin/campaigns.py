"""Campaigns of the current project; only drafts are edited here, launching is a service."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from wtforms import Form

from mailapp.admin.base import ProjectModelView, ProjectSelectField
from mailapp.models import Campaign, CampaignStatus, Sender, Template
from mailapp.permissions import Permission
from mailapp.services import ServiceError


class CampaignAdmin(ProjectModelView):
    permission = Permission.CAMPAIGNS_WRITE

    column_list = ["name", "status", "schedule_mode", "send_at", "launched_at", "created_at"]
    column_searchable_list = ["name"]
    column_filters = ["status", "schedule_mode", "created_at"]
    column_sortable_list = ["name", "status", "send_at", "created_at"]
    column_details_exclude_list = ["snapshot"]
    form_columns = [
        "name",
        "sender_id",
        "template_id",
        "schedule_mode",
        "send_at",
        "local_send_time",
        "track_opens",
        "track_clicks",
    ]
    form_extra_fields = {
        "sender_id": ProjectSelectField(Sender, "Sender"),
        "template_id": ProjectSelectField(Template, "Template"),
    }

    def on_model_change(self, form: Form, model: Campaign, is_created: bool) -> Any:
        if is_created:
            model.created_by_id = current_user.id
        elif model.status is not CampaignStatus.DRAFT:
            raise ServiceError("Only draft campaigns can be edited.")

    def on_model_delete(self, model: Campaign) -> Any:
        if model.status is not CampaignStatus.DRAFT:
            raise ServiceError("Only draft campaigns can be deleted; cancel it instead.")
