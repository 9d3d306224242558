"""Segments of the current project: a stored rule, counted when asked."""

from __future__ import annotations

from mailapp.admin.base import ProjectModelView
from mailapp.permissions import Permission


class SegmentAdmin(ProjectModelView):
    permission = Permission.CONTACTS_READ
    write_permission = Permission.CONTACTS_WRITE

    column_list = ["name", "last_count", "last_counted_at", "created_at"]
    column_searchable_list = ["name"]
    column_sortable_list = ["name", "last_count", "created_at"]
    form_columns = ["name", "description", "rule"]
    form_widget_args = {"rule": {"rows": 8}}
