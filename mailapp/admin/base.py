"""The base admin views: one place decides who may see, change and export what, and where.

Every view names the permission it needs (`permission` to see it at all, `write_permission`
to change rows, `action_permissions` for bulk actions). A user without it sees no menu entry
and gets 403 on the URL, with an audit entry. Every query of a `ProjectModelView` is scoped to
the current project: another project's id is a 404, never a row.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from flask import abort, flash, request
from flask.typing import ResponseReturnValue
from flask_admin import BaseView
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader, create_ajax_loader
from flask_admin.model import typefmt
from flask_wtf import FlaskForm
from wtforms import Form

from mailapp.access.permissions import Permission
from mailapp.access.records import create_record, delete_record, update_record
from mailapp.admin.access import AccessMixin
from mailapp.admin.context import (
    current_actor,
    current_project,
    has_permission,
)
from mailapp.admin.display import format_when
from mailapp.admin.scoping import ProjectAjaxLoader, scope_form
from mailapp.admin.utc import FilterConverter, ModelConverter
from mailapp.errors import ServiceError
from mailapp.extensions import db

log = logging.getLogger(__name__)

# Spreadsheet programs run cells starting with these as formulas (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ProjectView(AccessMixin, BaseView):
    """A custom back-office page of the current project, shown to holders of `permission`."""


def int_ids(ids: list[str]) -> list[int]:
    """Row ids posted by a list action; anything that is not a number is dropped."""
    return [int(i) for i in ids if str(i).isdigit()]


def _when(_view: Any, value: datetime, _name: str) -> str:
    return format_when(value)


def _words(_view: Any, value: enum.Enum, _name: str) -> str:
    """A stored choice (opt-in, role, template kind) as a word, not its code name."""
    return str(value.value).replace("_", " ").capitalize()


# Lists and details show moments like every page does (the viewer's zone, to the minute) and
# choices as words.
DATETIME_FORMATTERS = {**typefmt.BASE_FORMATTERS, enum.Enum: _words, datetime: _when}


class ProjectModelView(AccessMixin, ModelView):
    """A Flask-Admin model view scoped to the current project.

    `permission` is needed to see the view, `write_permission` (default: `permission`) to
    create, edit and delete, `create_permission`/`delete_permission`/`export_permission` where
    they differ, and `action_permissions = {"action_name": Permission.X}` for each action.
    Set `allow_create`/`allow_edit`/`allow_delete`/`allow_export` to switch features off;
    the `can_*` flags Flask-Admin reads follow the user's permissions.
    """

    write_permission: ClassVar[Permission | None] = None
    create_permission: ClassVar[Permission | None] = None
    delete_permission: ClassVar[Permission | None] = None
    export_permission: ClassVar[Permission | None] = None
    action_permissions: ClassVar[dict[str, Permission]] = {}
    # Views of custom @expose methods a subclass adds: {"method_name": Permission.X}.
    endpoint_permissions: ClassVar[dict[str, Permission]] = {}

    allow_create = True
    allow_edit = True
    allow_delete = True
    allow_export = False

    form_base_class = FlaskForm
    filter_converter = FilterConverter()
    model_form_converter = ModelConverter
    can_view_details = True
    page_size = 50
    can_set_page_size = True
    page_size_options = (20, 50, 100)
    column_default_sort = ("id", True)
    export_types = ["csv"]
    column_type_formatters = DATETIME_FORMATTERS
    column_type_formatters_detail = DATETIME_FORMATTERS
    export_max_rows = 10_000

    def __init__(self, model: type, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(model, db, name=name, **kwargs)

    # --- permissions -------------------------------------------------------------------
    def _write(self) -> Permission | None:
        return self.write_permission or self.permission

    def permission_for(self, name: str) -> Permission | None:
        if name in ("index_view", "details_view", "ajax_lookup"):
            return self.permission
        if name == "create_view":
            return self.create_permission or self._write()
        if name in ("edit_view", "ajax_update"):
            return self._write()
        if name == "delete_view":
            return self.delete_permission or self._write()
        if name == "export":
            return self.export_permission or self.permission
        if name == "action_view":
            return self.action_permission(request.form.get("action", ""))
        return self.endpoint_permissions.get(name)

    def action_permission(self, action: str) -> Permission | None:
        if action == "delete":
            return self.delete_permission or self._write()
        return self.action_permissions.get(action)

    def is_action_allowed(self, name: str) -> bool:
        return super().is_action_allowed(name) and has_permission(self.action_permission(name))

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return self.allow_create and has_permission(self.permission_for("create_view"))

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return self.allow_edit and has_permission(self._write())

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return self.allow_delete and has_permission(self.delete_permission or self._write())

    @property
    def can_export(self) -> bool:  # type: ignore[override]
        return self.allow_export and has_permission(self.export_permission or self.permission)

    def _handle_view(self, name: str, **kwargs: Any) -> ResponseReturnValue | None:
        refused = super()._handle_view(name, **kwargs)
        if refused is not None:
            return refused
        switched_off = {
            "create_view": self.allow_create,
            "edit_view": self.allow_edit,
            "ajax_update": self.allow_edit,
            "delete_view": self.allow_delete,
            "export": self.allow_export,
            "details_view": self.can_view_details,
        }
        if not switched_off.get(name, True):
            abort(404)
        return None

    # --- queries: always the current project ------------------------------------------
    def scope_column(self) -> Any:
        """The column that names a row's project."""
        return self.model.project_id

    def scope_filter(self) -> Any:
        """The condition every query of this view carries."""
        return self.scope_column() == current_project().id

    def get_query(self) -> Any:
        return super().get_query().filter(self.scope_filter())

    def get_count_query(self) -> Any:
        return super().get_count_query().filter(self.scope_filter())

    def get_one(self, id: Any) -> Any:
        try:
            pk = int(id)
        except (TypeError, ValueError):
            abort(404)
        row = self.get_query().filter(self.model.id == pk).one_or_none()
        if row is None:
            abort(404)
        return row

    def _create_ajax_loader(self, name: str, options: dict[str, Any]) -> QueryAjaxModelLoader:
        loader = create_ajax_loader(self.model, self.session, name, name, options)
        return ProjectAjaxLoader(loader.name, self.session, loader.model, **loader.options)

    def show_secret_once(
        self, response: ResponseReturnValue, secret: str | None, *, title: str, explanation: str
    ) -> ResponseReturnValue:
        """After a create that made a secret (API key, password): show it this once."""
        if secret is None:
            return response
        return self.render(
            "admin/shown_once.html",
            title=title,
            explanation=explanation,
            value=secret,
            return_url=self.get_url(".index_view"),
        )

    def create_form(self, obj: Any = None) -> Form:
        return scope_form(super().create_form(obj))

    def edit_form(self, obj: Any = None) -> Form:
        return scope_form(super().edit_form(obj))

    def get_export_value(self, model: Any, name: str) -> Any:
        value = super().get_export_value(model, name)
        if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
            return "'" + value
        return value

    # --- mutations: through the domain packages, one audit entry each -----------------------------
    def create_model(self, form: Form) -> Any:
        model = self.build_new_instance()
        form.populate_obj(model)
        if hasattr(self.model, "project_id"):
            model.project_id = current_project().id
        saved = self._save(form, model, created=True)
        return False if saved is None else saved

    def update_model(self, form: Form, model: Any) -> bool:
        form.populate_obj(model)
        return self._save(form, model, created=False) is not None

    @action("delete", "Delete", "Delete the selected rows?")
    def action_delete(self, ids: list[str]) -> None:
        """Delete the selected rows of this project one by one, each through the service."""
        rows = self.get_query().filter(self.model.id.in_(int_ids(ids))).all()
        deleted = sum(1 for row in rows if self.delete_model(row))
        if deleted:
            flash(f"{deleted} row(s) deleted.", "success")

    def delete_model(self, model: Any) -> bool:
        try:
            self.on_model_delete(model)
            self.remove(model)
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        self.after_model_delete(model)
        return True

    def save_new(self, form: Form, model: Any) -> Any:
        """Persist a new row and return it; aggregates with their own service override this."""
        return create_record(model, project_id=current_project().id, actor=current_actor())

    def save_changes(self, form: Form, model: Any) -> Any:
        """Persist an edited row; views of aggregates with their own service override this."""
        update_record(model, project_id=current_project().id, actor=current_actor())
        return model

    def remove(self, model: Any) -> None:
        """Delete a row; views of aggregates with their own service override this."""
        delete_record(model, project_id=current_project().id, actor=current_actor())

    def _save(self, form: Form, model: Any, *, created: bool) -> Any:
        """The saved object, or None after telling the user why it was refused."""
        try:
            self.on_model_change(form, model, created)
            saved = (self.save_new if created else self.save_changes)(form, model)
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return None
        except sa.exc.IntegrityError:
            db.session.rollback()
            log.info("integrity error saving %s", type(model).__name__, exc_info=True)
            flash("This conflicts with an existing entry (a duplicate?).", "error")
            return None
        self.after_model_change(form, saved, created)
        return saved
