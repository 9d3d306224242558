"""A campaign's details and the campaign list read in words: names instead of ids, statuses
as words, times in the project's zone; duplicate and resend to non-openers from there."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, Event, EventType, ScheduleMode, Segment
from tests.admin.conftest import csrf_token
from tests.factories import (
    make_campaign,
    make_contact,
    make_delivery,
    make_list,
    make_project,
    make_sender,
    make_sent_campaign,
    make_template,
    make_user,
)
from tests.support.audit import one_audit_entry


def setup(as_user):
    project = make_project()
    project.timezone = "Europe/Berlin"
    db.session.commit()
    client = as_user(make_user(project, "marketer"))
    return project, client


def test_details_name_everything_and_say_when_mail_goes_out(as_user, app):
    project, client = setup(as_user)
    lst = make_list(project, 2)
    lst.name = "Newsletter"
    segment = Segment(
        project_id=project.id,
        name="Buyers",
        rule={"all": [{"field": "attributes.plan", "op": "eq", "value": "pro"}]},
    )
    db.session.add(segment)
    sender = make_sender(project, name="Newsroom")
    template = make_template(project)
    template.name = "Winter"
    db.session.commit()
    campaign = make_campaign(
        project,
        sender,
        template,
        [lst],
        schedule_mode=ScheduleMode.AT,
        send_at=datetime(2030, 1, 2, 8, 30, 15, 123456, tzinfo=UTC),
    )
    campaign.audience = {**campaign.audience, "segment_id": segment.id}
    campaign.status = CampaignStatus.SCHEDULED
    campaign.launched_at = datetime(2029, 12, 1, 10, 0, 0, 999999, tzinfo=UTC)
    db.session.commit()
    page = client.get(f"/admin/campaign/details/?id={campaign.id}").data.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<script.*?</script>|<[^>]+>", " ", page, flags=re.S))
    assert "List: Newsletter" in text
    assert "Segment: Buyers" in text
    assert "Newsroom — Example News &lt;news@example.com&gt;" in text
    assert "Winter, version 1 (published)" in text
    assert "At 2 Jan 2030, 09:30 CET" in text
    assert "Mail goes out: first message about 2 Jan 2030, 09:30 CET" in text
    assert "1 Dec 2029, 11:00 CET" in text  # launched, in the project's zone
    assert "Status: Scheduled" in text
    for raw in ('{"lists"', "segment_id", "True", ".123456", "+00:00", "ScheduleMode", "at "):
        assert raw not in text.replace("At 2 Jan", ""), raw
    listing = client.get("/admin/campaign/").data.decode()
    assert "From 2 Jan 2030, 09:30 CET" in listing
    assert ">Scheduled<" in listing


def test_duplicate_and_resend_from_the_details_page(as_user, app):
    project, client = setup(as_user)
    source = make_sent_campaign(project, name="Spring")
    opened, ignored = make_contact(project), make_contact(project)
    for contact in (opened, ignored):
        make_delivery(source, contact)
    db.session.add(
        Event(
            project_id=project.id, type=EventType.OPEN, campaign_id=source.id, contact_id=opened.id
        )
    )
    db.session.commit()
    details = client.get(f"/admin/campaign/details/?id={source.id}").data.decode()
    assert "Resend to those who did not open" in details
    with one_audit_entry("campaign.resend_non_openers"):
        response = client.post(
            f"/admin/campaign/{source.id}/resend-non-openers",
            data={"csrf_token": csrf_token(client)},
        )
    resend = db.session.scalar(sa.select(Campaign).where(Campaign.id != source.id))
    assert response.headers["Location"].endswith(f"/admin/campaign/{resend.id}/content")
    audience_page = client.get(f"/admin/campaign/{resend.id}/audience").data.decode()
    assert 'id="resend-audience"' in audience_page
    # The page asks for its count as the browser would: only the one who did not open.
    assert f'data-non-openers="{source.id}"' in audience_page
    count = client.get(
        "/admin/campaign/audience-count", query_string={"campaign_non_openers": source.id}
    )
    assert count.json == {"count": 1, "text": "1"}
    review = client.get(f"/admin/campaign/details/?id={resend.id}").data.decode()
    assert "People who received “Spring” and did not open it" in review
    with one_audit_entry("campaign.duplicate"):
        client.post(
            f"/admin/campaign/{resend.id}/duplicate", data={"csrf_token": csrf_token(client)}
        )
    copy = db.session.scalar(sa.select(Campaign).order_by(Campaign.id.desc()))
    assert copy.audience == resend.audience
    assert copy.name == f"Copy of {resend.name}"
    assert client.get(f"/admin/campaign/{source.id}/duplicate").status_code == 405


def test_a_paused_campaign_says_why_and_offers_no_resend_before_anything_was_sent(as_user, app):
    project, client = setup(as_user)
    paused = make_sent_campaign(
        project, status=CampaignStatus.PAUSED, paused_reason="the bounce rate is 9.0%"
    )
    make_delivery(paused, make_contact(project), status="queued")
    db.session.commit()
    details = client.get(f"/admin/campaign/details/?id={paused.id}").data.decode()
    reason_line = re.search(r'<p[^>]*id="paused-reason-line"[^>]*>(.*?)</p>', details, re.S)
    assert "hidden" not in reason_line.group(0).split(">")[0]
    assert "Why it is paused:" in reason_line.group(1)
    assert "the bounce rate is 9.0%" in reason_line.group(1)
    assert 'id="resend-non-openers"' not in details  # nobody has received it yet

    sending = make_sent_campaign(project, status=CampaignStatus.SENDING, name="Summer")
    make_delivery(sending, make_contact(project))
    db.session.commit()
    details = client.get(f"/admin/campaign/details/?id={sending.id}").data.decode()
    assert re.search(r'<p[^>]*id="paused-reason-line"[^>]*\bhidden', details)
    assert 'id="resend-non-openers"' in details


def test_the_campaign_list_offers_edit_and_delete_on_drafts_only(as_user, app):
    project, client = setup(as_user)
    draft = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)]
    )
    sent = make_sent_campaign(project, name="Autumn")
    page = client.get("/admin/campaign/").data.decode()
    rows = {
        name: row
        for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)
        for name in (draft.name, sent.name)
        if f">{name}</a>" in row
    }
    assert f"/admin/campaign/edit/?id={draft.id}" in rows[draft.name]
    assert 'action="/admin/campaign/delete/"' in rows[draft.name]
    assert "/admin/campaign/edit/" not in rows[sent.name]
    assert "/admin/campaign/delete/" not in rows[sent.name]


def test_resend_of_a_draft_is_refused_with_a_message(as_user, app):
    project, client = setup(as_user)
    draft = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)]
    )
    response = client.post(
        f"/admin/campaign/{draft.id}/resend-non-openers",
        data={"csrf_token": csrf_token(client)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert b"only a campaign that has sent mail can be resent" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 1


def test_analyst_cannot_open_the_steps(as_user, app):
    project = make_project()
    draft = make_campaign(
        project, make_sender(project), make_template(project), [make_list(project, 1)]
    )
    client = as_user(make_user(project, "analyst"))
    for url in (f"/admin/campaign/{draft.id}/audience", "/admin/campaign/new/"):
        assert client.get(url).status_code == 403
