"""The current project's settings; operators (superusers) also create projects here."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from flask_login import current_user
from wtforms import Form, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from mailapp.access.permissions import Permission
from mailapp.access.projects import create_project
from mailapp.admin.base import ProjectModelView
from mailapp.admin.context import current_actor
from mailapp.models import Project


def _zones() -> list[tuple[str, str]]:
    return [SelectChoice(z) for z in sorted(available_timezones())]


class ProjectAdmin(ProjectModelView):
    permission = Permission.PROJECTS_MANAGE
    allow_delete = False
    can_view_details = False
    superuser_only = frozenset({"create_view"})

    column_list = ["name", "slug", "timezone", "sending_stopped_at", "created_at"]
    column_sortable_list = ["name", "slug", "created_at"]
    form_columns = ["name", "timezone", "postal_address"]
    form_overrides = {"timezone": SelectField}
    form_args = {"timezone": {"choices": _zones}}

    def scope_column(self) -> Any:
        return Project.id

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        """New tenants are an operator's decision."""
        return current_user.is_authenticated and current_user.is_superuser

    def get_create_form(self) -> type[Form]:
        class NewProjectForm(self.get_form()):
            slug = StringField(
                "Slug",
                validators=[DataRequired()],
                description="Lower-case letters, digits and hyphens; used by the CLI",
            )

        return NewProjectForm

    def create_model(self, form: Form) -> Any:
        return self._save(form, None, created=True) or False

    def save_new(self, form: Form, model: Any) -> Project:
        return create_project(
            form.slug.data.strip(),
            name=form.name.data,
            timezone=form.timezone.data,
            actor=current_actor(),
        )
