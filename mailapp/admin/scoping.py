"""Keeping every back-office form and lookup inside the current project.

Relationship selects, select2 lookups and plain id selects only offer rows of the project
being worked in, so a form can never name another tenant's row."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from wtforms import Form, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from mailapp.admin.context import (
    current_project,
)
from mailapp.extensions import db


class ProjectAjaxLoader(QueryAjaxModelLoader):
    """Ajax lookups (select2 fields) only ever offer rows of the current project."""

    def get_query(self) -> Any:
        return scope_query(super().get_query())

    def get_one(self, pk: Any) -> Any:
        return self.get_query().filter(self.model.id == pk).one_or_none()


def scope_query(query: Any) -> Any:
    """Filter a legacy ORM query on a project-owned model to the current project."""
    entity = query.column_descriptions[0]["entity"]
    if entity is not None and hasattr(entity, "project_id"):
        return query.filter(entity.project_id == current_project().id)
    return query


class ProjectSelectField(SelectField):
    """Choose a row of the current project by id (for foreign keys without a relationship)."""

    def __init__(self, model: type, label: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [Optional()])
        super().__init__(label, coerce=_optional_int, **kwargs)
        self.model = model

    def _rows(self) -> list[SelectChoice]:
        rows = db.session.scalars(
            sa.select(self.model)
            .where(self.model.project_id == current_project().id)
            .order_by(self.model.id.desc())
            .limit(500)
        )
        return [SelectChoice(str(row.id), str(row)) for row in rows]

    def iter_choices(self) -> Any:
        self.choices = [SelectChoice("", "—"), *self._rows()]
        return super().iter_choices()

    def pre_validate(self, form: Form) -> None:
        if self.data is not None and str(self.data) not in {c.value for c in self._rows()}:
            raise ValueError("Choose one of this project's entries.")


def _optional_int(value: Any) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)


def scope_form(form: Form) -> Form:
    """Relationship selects built by Flask-Admin list only the current project's rows."""
    for field in form:
        factory = getattr(field, "query_factory", None)
        if factory is not None:
            field.query_factory = lambda factory=factory: scope_query(factory())
            field.query = None
    return form
