"""Issue 15 item 1: templates cannot exhaust the server.

Each payload of the black-box probe runs through the sandbox, the back-office preview
(rendered in a killable process) and the transactional send worker; each is refused with a
reason naming the limit, in seconds. Unchecked, the replace payload made a 100 MB string,
the powers ran 5.8 s and more, the loop held a web worker until gunicorn killed it (30 s).
"""

from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa

from mailapp.content import isolation
from mailapp.content.isolation import RenderPool
from mailapp.content.rendering import RenderError, compile_content, render_content
from mailapp.delivery import transactional_send
from mailapp.extensions import db
from mailapp.models import DeliveryStatus, Message, TemplateVersion
from tests.admin.conftest import login
from tests.factories import HTML, make_project, make_sender, make_template, make_user
from tests.security.payloads import (
    LOOP,
    PAYLOADS,
    assert_refused,
    context,
    inline_message,
)

# Far below what any payload takes unchecked (the loop: hours), far above a refusal.
BOUND = 15.0


def version(html: str) -> TemplateVersion:
    return TemplateVersion(
        id=None, subject="Hi", preheader=None, html=html, text="x", locale="en",
        locale_variants={},
    )  # fmt: skip


@pytest.mark.parametrize(("source", "reason"), PAYLOADS.values(), ids=PAYLOADS.keys())
def test_each_payload_is_refused_by_the_sandbox_with_its_reason(source, reason):
    started = time.monotonic()
    with pytest.raises(RenderError) as refused:
        render_content(compile_content(version(source)), context())
    assert_refused(str(refused.value), reason, started, BOUND)


def test_ordinary_templates_still_render():
    source = (
        "{% for c in 'abc' %}{{ loop.index }}{{ c|upper }}{% endfor %}|"
        "{{ 'a,b'.split(',')|join('-') }}|{{ '%5.2f'|format(3.14159) }}|{{ '{:>4}'.format('x') }}|"
        "{% for k, v in {'n': 2}.items() %}{{ k }}={{ v * 21 }}{% endfor %}|{{ 2 ** 10 }}|"
        "{% macro m(x) %}[{{ x }}]{% endmacro %}{{ m('y') }}{{ ([1, 2] + [3])|sum }}"
    )
    html = render_content(compile_content(version(source)), context()).html
    assert "1A2B3C|a-b| 3.14|   x|n=42|1024|[y]6" in html


def test_preview_of_each_payload_answers_quickly_with_the_reason(app, client):
    project = make_project()
    login(client, make_user(project, "owner"))
    for name, (source, reason) in PAYLOADS.items():
        template = make_template(project, html=source)
        started = time.monotonic()
        page = client.get(f"/admin/template/version/{template.published_version_id}/preview/")
        assert page.status_code == 200, name
        text = page.get_data(as_text=True).replace("&#39;", "'")
        assert_refused(text, reason, started, BOUND)
    # and the body the preview frame loads is a 404, not a held worker
    started = time.monotonic()
    frame = client.get(f"/admin/template/version/{template.published_version_id}/preview/body")
    assert frame.status_code == 404
    assert time.monotonic() - started < BOUND


def test_a_render_process_that_overruns_is_killed_and_replaced():
    pool = RenderPool(size=1, timeout=1.0, memory_mb=512)
    try:
        assert pool.run(os.getpid) != os.getpid()  # it runs elsewhere
        first = pool.run(os.getpid)
        started = time.monotonic()
        with pytest.raises(RenderError, match=r"took too long \(stopped after 1 s\)"):
            pool.run(time.sleep, 120)
        assert time.monotonic() - started < BOUND
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)  # SIGKILLed, not left running
        assert pool.run(os.getpid) not in (first, os.getpid())  # a fresh one took its place
        with pytest.raises(RenderError, match="out of memory"):
            pool.run(bytearray, 2 * 1024**3)  # over the process's memory limit
        assert pool.run(sum, [1, 2]) == 3
    finally:
        pool.close()


def slow_to_start(conn, memory_bytes: int) -> None:
    """A render process that takes half a second to start, as a cold one on a busy machine."""
    time.sleep(0.5)
    isolation._serve(conn, memory_bytes)


def test_the_render_deadline_does_not_count_a_new_process_starting(monkeypatch):
    monkeypatch.setattr(isolation, "_serve", slow_to_start)
    pool = RenderPool(size=1, timeout=0.3, memory_mb=512)
    try:
        assert pool.run(sum, [1, 2]) == 3  # the start took longer than the deadline
        with pytest.raises(RenderError, match="took too long"):
            pool.run(time.sleep, 5)  # the render itself is still bounded
    finally:
        pool.close()


def test_a_transactional_message_the_sandbox_refuses_ends_failed_with_the_reason(app, client):
    project = make_project()
    make_sender(project)
    started = time.monotonic()
    message_id = inline_message(client, project, LOOP)
    assert transactional_send.send_message(message_id) == "failed"
    assert time.monotonic() - started < BOUND
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    assert (message.status, message.reason) == (DeliveryStatus.FAILED, "not rendered")
    assert "rendering took too long" in message.last_reply
    # the dispatch tick does not hand it out again
    assert message_id not in transactional_send.due_messages()
    shown = db.session.scalar(sa.select(Message.status).where(Message.id == message_id))
    assert shown == DeliveryStatus.FAILED


def test_a_campaign_whose_template_the_sandbox_refuses_pauses_saying_why(app):
    from mailapp.models import Campaign, CampaignStatus, Delivery
    from tests.support.pipeline import pipeline_sink, send_campaign

    project = make_project()
    template = make_template(project, html=PAYLOADS["power"][0] + HTML)
    with pipeline_sink(app) as sink:
        started = time.monotonic()
        campaign = send_campaign(project, template, 12)
        assert time.monotonic() - started < BOUND
    assert sink.messages == []
    stored = db.session.get(Campaign, campaign.id)
    assert stored.status == CampaignStatus.PAUSED
    assert stored.paused_reason.startswith(
        "auto-paused: 3 recipients in a row could not be rendered"
    )
    assert "4096 bits" in stored.paused_reason
    rows = db.session.execute(
        sa.select(Delivery.status, Delivery.reason).where(Delivery.campaign_id == campaign.id)
    ).all()
    failed = [r for r in rows if r.status == DeliveryStatus.FAILED]
    assert len(failed) == 3  # the others wait, untouched, for the campaign to be resumed
    assert {r.reason for r in failed} == {"not rendered"}
    assert all(r.status == DeliveryStatus.QUEUED for r in rows if r not in failed)
