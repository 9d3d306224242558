"""Flask-Admin converters for our column types: UTCDateTime in aware UTC, enums.

Flask-Admin picks converters by the column type's class name; our TypeDecorator needs its
own, and the values it gets from the browser (naive "YYYY-MM-DD HH:MM:SS") are read as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import DateTimeField
from flask_admin.model import filters as model_filters
from flask_admin.model.form import converts
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


class _UTCClean:
    def clean(self, value: str) -> Any:
        cleaned = super().clean(value)
        if isinstance(cleaned, list):
            return [_utc(v) for v in cleaned]
        return _utc(cleaned)


def _utc_filter(base: type) -> type:
    return type(f"UTC{base.__name__}", (_UTCClean, base), {})


UTC_DATETIME_FILTERS = tuple(
    _utc_filter(f) if f is not sqla_filters.FilterEmpty else f
    for f in sqla_filters.FilterConverter.datetime_filters
)


class _ByValue:
    """Enums are stored and offered by value; Flask-Admin's filters look them up by name."""

    def clean(self, value: str) -> Any:
        if self.enum_class is None:
            return super().clean(value)
        return self.enum_class(value)  # ValueError for anything else: the filter is ignored


class _ListByValue:
    def clean(self, value: str) -> Any:
        values = sqla_filters.FilterInList.clean(self, value)
        return values if self.enum_class is None else [self.enum_class(v) for v in values]


ENUM_FILTERS = (
    type("EnumEqual", (_ByValue, sqla_filters.EnumEqualFilter), {}),
    type("EnumNotEqual", (_ByValue, sqla_filters.EnumFilterNotEqual), {}),
    sqla_filters.EnumFilterEmpty,
    type("EnumInList", (_ListByValue, sqla_filters.EnumFilterInList), {}),
    type("EnumNotInList", (_ListByValue, sqla_filters.EnumFilterNotInList), {}),
)


class FilterConverter(sqla_filters.FilterConverter):
    enum = ENUM_FILTERS

    @model_filters.convert("utcdatetime")
    def conv_utc_datetime(self, column: Any, name: str, **kwargs: Any) -> list[Any]:
        return [f(column, name, **kwargs) for f in UTC_DATETIME_FILTERS]


class UTCDateTimeField(DateTimeField):
    """A date-time typed and shown in UTC."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = _utc(self.data)

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        if self.data is None:
            return ""
        return self.data.astimezone(UTC).strftime(self.format[0])


class ModelConverter(AdminModelConverter):
    @converts("sqlalchemy.sql.sqltypes.Enum")
    def convert_enum(self, column: Any, field_args: Any, **extra: Any) -> SelectField:
        """A plain select of the enum's values (Flask-Admin's uses tuples WTForms deprecates)."""
        choices = [SelectChoice(value) for value in column.type.enums]
        if column.nullable:
            choices.insert(0, SelectChoice("", "—"))
            field_args["filters"] = [*field_args.get("filters", []), lambda v: v or None]
        self._nullable_common(column, field_args)
        field_args["validators"].append(AnyOf([*column.type.enums, None]))
        field_args["coerce"] = lambda v: "" if v is None else str(v)
        return SelectField(choices=choices, **field_args)

    @converts("UTCDateTime")
    def convert_utc_datetime(self, field_args: Any, **extra: Any) -> UTCDateTimeField:
        field_args.setdefault("description", "UTC")
        return UTCDateTimeField(**field_args)
