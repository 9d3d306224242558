"""Templates of the current project; versions, review and publishing are edited per template."""

from __future__ import annotations

from mailapp.admin.base import ProjectModelView
from mailapp.permissions import Permission


class TemplateAdmin(ProjectModelView):
    permission = Permission.TEMPLATES_WRITE

    column_list = ["name", "kind", "published_version", "created_at"]
    column_searchable_list = ["name"]
    column_filters = ["kind"]
    column_sortable_list = ["name", "kind", "created_at"]
    column_details_list = ["name", "kind", "published_version", "created_at"]
    form_columns = ["name", "kind"]
