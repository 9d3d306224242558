"""The contacts list: a total (estimated at a million rows) and statuses anyone can read."""

from __future__ import annotations

from typing import Any

from flask import g
from markupsafe import Markup

from mailapp.audience import contact_reads
from mailapp.models import Contact

STATUS_BADGES = {
    "active": "success",
    "unsubscribed": "secondary",
    "bounced": "danger",
    "complained": "danger",
    "erased": "dark",
}


def status_badges(model: Contact) -> Markup:
    """The status as a coloured word, plus a "quarantined" badge so it never looks active."""
    status = model.status.value
    badges = Markup('<span class="badge badge-{}">{}</span>').format(
        STATUS_BADGES.get(status, "secondary"), status
    )
    if model.quarantined:
        badges += Markup(
            ' <span class="badge badge-warning" title="Soft bounces: not mailed until released">'
            "quarantined</span>"
        )
    return badges


class ContactListMixin:
    """Numbered pages with a total that stays fast: Flask-Admin's COUNT(*) is replaced."""

    def get_list(  # type: ignore[override]
        self,
        page: int | None,
        sort_column: str | None,
        sort_desc: bool,
        search: str | None,
        filters: Any,
        execute: bool = True,
        page_size: int | None = None,
    ) -> tuple[int | None, Any]:
        """The page of rows and a total: exact when small, the planner's estimate when huge."""
        _, query = super().get_list(
            page, sort_column, sort_desc, search, filters, execute=False, page_size=page_size
        )
        total = contact_reads.count_rows(query.limit(None).offset(None).order_by(None).statement)
        g.contact_total = total
        return total.value, (query.all() if execute else query)
