"""The forms of the campaign steps (audience, content, schedule), each validated at save:
a bad value is refused naming its field and the format expected, and nothing is saved."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import sqlalchemy as sa
from flask_wtf import FlaskForm
from wtforms import BooleanField, Form, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from mailapp.admin.context import current_project
from mailapp.admin.scoping import ProjectSelectField
from mailapp.extensions import db
from mailapp.models import List, Segment, Sender, Template

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")
MAX_AHEAD = timedelta(days=731)  # a schedule further out is a typo, not a plan
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
WEEKDAYS = [
    SelectChoice(str(day), name)
    for day, name in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
]


class ProjectListsField(SelectMultipleField):
    """Any number of the current project's lists, shown as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, label: str | None = None, **kwargs: Any) -> None:
        super().__init__(label, coerce=int, validators=[Optional()], **kwargs)

    def _rows(self) -> list[SelectChoice]:
        rows = db.session.scalars(
            sa.select(List).where(List.project_id == current_project().id).order_by(List.name)
        )
        return [SelectChoice(row.id, row.name) for row in rows]

    def iter_choices(self) -> Any:
        self.choices = self._rows()
        return super().iter_choices()

    def pre_validate(self, form: Form) -> None:
        if set(self.data or []) - {c.value for c in self._rows()}:
            raise ValidationError("Choose lists of this project.")


class TemplateField(ProjectSelectField):
    """A template of the project, labelled with the version that would be sent."""

    def _rows(self) -> list[SelectChoice]:
        rows = db.session.scalars(
            sa.select(Template)
            .where(Template.project_id == current_project().id)
            .order_by(Template.name)
            .limit(500)
        )
        return [
            SelectChoice(
                str(t.id),
                f"{t.name} — version {t.published_version.number}"
                if t.published_version
                else f"{t.name} — not published yet",
            )
            for t in rows
        ]


def hhmm(label: str, value: str | None) -> str:
    """A 24-hour HH:MM time, or a ValidationError naming the field and the format."""
    value = (value or "").strip()
    if not HHMM.match(value):
        raise ValidationError(f"{label}: use HH:MM on a 24-hour clock, like 09:30 (got {value!r})")
    return value


def parse_local_datetime(label: str, value: str | None, zone_name: str) -> datetime:
    """A datetime-local value read in the project's zone, as an aware datetime."""
    raw = (value or "").strip()
    if not raw:
        raise ValidationError(f"{label}: choose a date and time to send (in {zone_name}).")
    for fmt in DATETIME_FORMATS:
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=ZoneInfo(zone_name))
        except ValueError:
            continue
    raise ValidationError(
        f"{label}: choose a date and time, like 2026-12-03 09:30 ({zone_name}) (got {raw!r})"
    )


class AudienceForm(FlaskForm):
    name = StringField(
        "Campaign name",
        validators=[DataRequired(message="Campaign name: give the campaign a name.")],
        description="For you and your team; recipients see the subject, not this.",
    )
    lists = ProjectListsField("Lists")
    segment_id = ProjectSelectField(Segment, "Segment")
    include_quarantined = BooleanField(
        "Also send to quarantined contacts",
        description="Contacts held back by an import check (role or disposable addresses).",
    )

    # Set by the view when the draft resends an earlier campaign to its non-openers.
    non_openers_of: int | None = None

    def validate(self, extra_validators: Any = None) -> bool:
        """Fields first, then: somebody must be chosen."""
        valid = super().validate(extra_validators)
        chosen = self.lists.data or self.segment_id.data is not None or self.non_openers_of
        if valid and not chosen:
            self.lists.errors = ["Audience: choose at least one list or a segment."]
            return False
        return valid


class ContentForm(FlaskForm):
    template_id = TemplateField(
        Template,
        "Template",
        description="The published version is sent; edit it under Content → Templates.",
    )
    sender_id = ProjectSelectField(Sender, "Sender", description="Who the mail comes from.")
    track_opens = BooleanField("Count opens", default=True)
    track_clicks = BooleanField("Count clicks", default=True)
    utm_source = StringField("UTM source", validators=[Optional()])
    utm_medium = StringField("UTM medium", validators=[Optional()])
    utm_campaign = StringField(
        "UTM campaign",
        validators=[Optional()],
        description="Values may use campaign.id, campaign.name, campaign.slug, link.host "
        "(Jinja); a parameter already in a link is kept.",
    )
    utm_term = StringField("UTM term", validators=[Optional()])
    utm_content = StringField("UTM content", validators=[Optional()])


def _zones() -> list[SelectChoice]:
    return [SelectChoice("", "The project's time zone")] + [
        SelectChoice(z) for z in sorted(available_timezones())
    ]


class ScheduleForm(FlaskForm):
    schedule_mode = RadioField(
        "When",
        choices=[
            SelectChoice("now", "As soon as I launch it"),
            SelectChoice("at", "At a date and time"),
            SelectChoice("local_time", "At a time of day in each contact's own time zone"),
        ],
        default="now",
    )
    # No Optional(): it would stop the checks below when the field is empty.
    send_at = StringField("Send at", render_kw={"type": "datetime-local"})
    local_send_time = StringField("Local send time", render_kw={"type": "time"})
    window_days = SelectMultipleField(
        "Send window: days",
        choices=WEEKDAYS,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description="Leave every day unticked to send at any time.",
    )
    window_start = StringField("Send window: from", render_kw={"type": "time"})
    window_end = StringField("Send window: until", render_kw={"type": "time"})
    window_timezone = SelectField("Send window: time zone", choices=_zones, validators=[Optional()])

    send_at_utc: datetime | None = None

    def validate_send_at(self, field: Any) -> None:
        if self.schedule_mode.data != "at":
            return
        at = parse_local_datetime("Send at", field.data, current_project().timezone)
        now = datetime.now(at.tzinfo)
        if at <= now:
            raise ValidationError("Send at: this time has passed; choose a later one.")
        if at > now + MAX_AHEAD:
            raise ValidationError("Send at: choose a time within the next two years.")
        self.send_at_utc = at

    def validate_local_send_time(self, field: Any) -> None:
        if self.schedule_mode.data == "local_time":
            field.data = hhmm("Local send time", field.data)

    def validate_window_start(self, field: Any) -> None:
        if self.window_days.data:
            field.data = hhmm("Send window: from", field.data or "00:00")

    def validate_window_end(self, field: Any) -> None:
        if self.window_days.data:
            field.data = hhmm("Send window: until", field.data or "23:59")
            if field.data == self.window_start.data:
                raise ValidationError("Send window: from and until must differ.")
