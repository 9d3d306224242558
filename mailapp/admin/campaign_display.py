"""How a campaign reads in the back office: names instead of ids, settings in words, times
in the project's zone (the `when` filter), and when its mail goes out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from mailapp.admin.display import format_when
from mailapp.delivery.eta import Estimate
from mailapp.delivery.windows import SendWindow
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    List,
    Project,
    ScheduleMode,
    Segment,
    Sender,
    Template,
)

STATUS_LABELS = {
    CampaignStatus.DRAFT: "Draft",
    CampaignStatus.SCHEDULED: "Scheduled",
    CampaignStatus.SENDING: "Sending",
    CampaignStatus.PAUSED: "Paused",
    CampaignStatus.SENT: "Sent",
    CampaignStatus.CANCELLED: "Cancelled",
}
STATUS_BADGES = {
    CampaignStatus.DRAFT: "secondary",
    CampaignStatus.SCHEDULED: "info",
    CampaignStatus.SENDING: "primary",
    CampaignStatus.PAUSED: "warning",
    CampaignStatus.SENT: "success",
    CampaignStatus.CANCELLED: "dark",
}
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def status_label(status: CampaignStatus | str) -> str:
    """'scheduled' -> 'Scheduled'."""
    return STATUS_LABELS.get(CampaignStatus(status), str(status))


def describe_audience(project_id: int, audience: dict) -> list[str]:
    """The audience as lines a marketer reads: list and segment names, not ids."""
    lines = []
    list_ids = audience.get("lists") or []
    if list_ids:
        names = db.session.scalars(
            sa.select(List.name)
            .where(List.project_id == project_id, List.id.in_(list_ids))
            .order_by(List.name)
        ).all()
        lines.append(("List: " if len(names) == 1 else "Lists: ") + ", ".join(names))
    if audience.get("segment_id") is not None:
        name = db.session.scalar(
            sa.select(Segment.name).where(
                Segment.project_id == project_id, Segment.id == audience["segment_id"]
            )
        )
        lines.append(f"Segment: {name or '(deleted)'}")
    if audience.get("campaign_non_openers") is not None:
        name = db.session.scalar(
            sa.select(Campaign.name).where(
                Campaign.project_id == project_id,
                Campaign.id == audience["campaign_non_openers"],
            )
        )
        lines.append(f"People who received “{name or '(deleted)'}” and did not open it")
    if not lines:
        return ["Nobody chosen yet"]
    if audience.get("include_quarantined"):
        lines.append("Quarantined contacts included")
    return lines


def describe_sender(sender_id: int | None) -> str:
    """'News — Example News <news@example.com>'."""
    sender = db.session.get(Sender, sender_id) if sender_id else None
    if sender is None:
        return "None chosen yet"
    return f"{sender.name} — {sender.from_name} <{sender.from_email}>"


def describe_template(template_id: int | None) -> str:
    """'Welcome, version 3 (published)'."""
    template = db.session.get(Template, template_id) if template_id else None
    if template is None:
        return "None chosen yet"
    version = template.published_version
    if version is None:
        return f"{template.name} (no published version yet)"
    return f"{template.name}, version {version.number} (published)"


def describe_schedule(project: Project, campaign: Campaign) -> str:
    """When the campaign is meant to go out, in words."""
    if campaign.schedule_mode == ScheduleMode.AT:
        return f"At {format_when(campaign.send_at)}" if campaign.send_at else "At a time not set"
    if campaign.schedule_mode == ScheduleMode.LOCAL_TIME:
        return (
            f"At {campaign.local_send_time or '—'} in each contact's own time zone "
            f"({project.timezone} for contacts without one)"
        )
    return "As soon as it is launched"


def describe_window(project: Project, spec: dict | None) -> str:
    """'Mon, Tue, Wed 09:00 to 17:00 (Europe/Berlin)' or 'Any day, any time'."""
    if not spec:
        return "Any day, any time"
    window = SendWindow.from_dict(spec, project.timezone)
    days = "Every day" if len(window.days) == 7 else ", ".join(DAY_NAMES[d] for d in window.days)
    return f"{days}, {window.start:%H:%M} to {window.end:%H:%M} ({window.tz.key})"


def describe_tracking(campaign: Campaign) -> str:
    """'Opens and clicks', 'Clicks only', 'Off'."""
    tracked = [
        name
        for name, on in (("opens", campaign.track_opens), ("clicks", campaign.track_clicks))
        if on
    ]
    return " and ".join(tracked).capitalize() if tracked else "Off"


def describe_eta(estimate: Estimate) -> dict[str, Any]:
    """First and last send moments as text, with what holds sending back."""
    return {
        "first": format_when(estimate.first),
        "last": format_when(estimate.last) if estimate.last else "more than a year after the first",
        "held_by": estimate.held_by,
        "same": estimate.first is not None
        and estimate.last is not None
        and format_when(estimate.first) == format_when(estimate.last),
    }


def goes_out(project: Project, campaign: Campaign, now: datetime) -> str:
    """A short 'when' for the campaign list, without estimating (one list page stays fast)."""
    status = campaign.status
    if status == CampaignStatus.SENT:
        return f"Sent {format_when(campaign.finished_at)}"
    if status == CampaignStatus.CANCELLED:
        return "Cancelled"
    if status == CampaignStatus.PAUSED:
        return "Paused"
    if status == CampaignStatus.SENDING:
        return "Going out now"
    start = now
    if campaign.schedule_mode == ScheduleMode.AT and campaign.send_at:
        start = max(campaign.send_at, now)
    if campaign.send_window:
        start = SendWindow.from_dict(campaign.send_window, project.timezone).next_open(start)
    prefix = "Planned: " if status == CampaignStatus.DRAFT else "From "
    if campaign.schedule_mode == ScheduleMode.LOCAL_TIME:
        return f"{prefix}{campaign.local_send_time or '—'} in each contact's time zone"
    if status == CampaignStatus.DRAFT and campaign.schedule_mode == ScheduleMode.NOW:
        return "When launched"
    return prefix + format_when(start)
