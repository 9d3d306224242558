"""What a sent campaign message carries, read back with the stdlib parser: tracked links in
both parts, the view-in-browser URL, UTM tags on untracked mail, templated A/B subjects."""

import email
import re

import pytest
import sqlalchemy as sa

from mailapp.content.submission import TemplateRefused
from mailapp.delivery.launch import preflight
from mailapp.extensions import db
from mailapp.models import Contact, Delivery, Link
from mailapp.urls import read_click, read_single, read_verp
from tests.factories import HTML, make_campaign, make_list, make_project, make_sender, make_template
from tests.support.pipeline import pipeline_sink, send_campaign

VIEW_HTML = HTML + '\n<p><a href="{{ view_in_browser_url }}">View in your browser</a></p>'
TEXT = """Hello {{ contact.first_name }},
Read the news: https://example.com/news.
The docs (https://example.com/docs?x=1) and one link only here: HTTPS://example.com/text-only
View in your browser: {{ view_in_browser_url }}
{{ project.postal_address }}. You receive this because you subscribed.
Unsubscribe: {{ unsubscribe_url }}
"""


@pytest.fixture
def sink(app):
    with pipeline_sink(app) as sink:
        yield sink


def send(count=3, html=VIEW_HTML, text=TEXT, **fields):
    project = make_project()
    template = make_template(project, html)
    template.published_version.text = text
    db.session.commit()
    return project, send_campaign(project, template, count, **fields)


def parts(message):
    parsed = email.message_from_bytes(message.data)
    body = {
        p.get_content_type(): p.get_payload(decode=True).decode().replace("\r\n", "\n")
        for p in parsed.walk()
        if p.get_content_maintype() == "text"
    }
    return parsed, body["text/html"], body["text/plain"]


def urls_in(text):
    return [url.rstrip(".,") for url in re.findall(r"https?://[^\s\"<>)]+", text, re.I)]


def stored_links(campaign_id):
    return dict(
        db.session.execute(
            sa.select(Link.id, Link.url).where(Link.campaign_id == campaign_id)
        ).all()
    )


def test_text_part_links_are_the_same_tracked_links_as_the_html(app, sink):
    _, campaign = send()
    secret = app.config["SECRET_KEY"]
    links = stored_links(campaign.id)
    # One Link row per URL, whichever part has it; the text-only link gets one too, its
    # scheme written in capitals.
    assert sorted(links.values()) == [
        "HTTPS://example.com/text-only",
        "https://example.com/docs?x=1",
        "https://example.com/news",
    ]
    assert len(sink.messages) == 3
    for message in sink.messages:
        parsed, html, text = parts(message)
        _, delivery_id = read_verp(secret, message.mail_from)
        html_clicks = [
            read_click(secret, u.split("/t/c/")[1]) for u in urls_in(html) if "/t/c/" in u
        ]
        text_clicks = [
            read_click(secret, u.split("/t/c/")[1]) for u in urls_in(text) if "/t/c/" in u
        ]
        assert {item for item, _ in html_clicks + text_clicks} == {delivery_id}
        html_urls = [links[link_id] for _, link_id in html_clicks]
        text_urls = [links[link_id] for _, link_id in text_clicks]
        assert html_urls == ["https://example.com/news", "https://example.com/docs?x=1"]
        assert text_urls == [*html_urls, "HTTPS://example.com/text-only"]
        # Sentence punctuation stays outside the rewritten URL.
        assert re.search(r"Read the news: http://mail\.test/t/c/[a-z0-9-]+\.\n", text)
        assert re.search(r"\(http://mail\.test/t/c/[a-z0-9-]+\) and", text)
        # Nothing untracked is left but our own unsubscribe and view URLs.
        for url in urls_in(text):
            assert url.startswith(
                ("http://mail.test/t/c/", "http://mail.test/u/", "http://mail.test/v/")
            )
        first_name = db.session.scalar(
            sa.select(Contact.first_name).where(Contact.email == message.rcpt_tos[0])
        )
        assert text.startswith(f"Hello {first_name},")
        assert parsed["Subject"] == f"News for {first_name}"


def test_the_view_in_browser_url_names_the_delivery_in_both_parts(app, sink):
    _, campaign = send(2)
    secret = app.config["SECRET_KEY"]
    seen = set()
    for message in sink.messages:
        _, html, text = parts(message)
        _, delivery_id = read_verp(secret, message.mail_from)
        views = [u for u in urls_in(html) + urls_in(text) if "/v/" in u]
        assert len(views) == 2
        assert {read_single(secret, "view", u.rsplit("/", 1)[1]) for u in views} == {delivery_id}
        seen.add(delivery_id)
    delivery_ids = db.session.scalars(
        sa.select(Delivery.id).where(Delivery.campaign_id == campaign.id)
    ).all()
    assert seen == set(delivery_ids)


RULE = {
    "utm_source": "mailapp",
    "utm_campaign": "{{ campaign.slug }}",
    "utm_content": "{{ link.path }}",
}
UTM_HTML = HTML.replace("https://example.com/news", "https://example.com/news?utm_source=blog#part")


def test_untracked_mail_carries_the_templated_utm_rule_in_both_parts(app, sink):
    _, campaign = send(
        2,
        html=UTM_HTML,
        text="News: https://example.com/news?utm_source=blog#part and "
        "https://example.com/docs?x=1.\nUnsubscribe: {{ unsubscribe_url }}\n",
        name="Spring Sale",
        track_clicks=False,
        track_opens=False,
        utm=RULE,
    )
    news = (
        "https://example.com/news?utm_source=blog&utm_campaign=spring-sale&utm_content=%2Fnews#part"
    )
    docs = (
        "https://example.com/docs?x=1"
        "&utm_campaign=spring-sale&utm_content=%2Fdocs&utm_source=mailapp"
    )
    for message in sink.messages:
        _, html, text = parts(message)
        assert "/t/c/" not in html + text
        assert "/t/o/" not in html
        assert f'href="{news.replace("&", "&amp;")}"' in html
        assert f'href="{docs.replace("&", "&amp;")}"' in html
        assert f"News: {news} and {docs}.\n" in text
        # Jinja-made links are ours, not the author's: no UTM on them.
        assert re.search(r"Unsubscribe: http://mail\.test/u/[a-z0-9-]+\n", text)
    # Links are stored as written; the rule is applied where they are followed.
    assert sorted(stored_links(campaign.id).values()) == [
        "https://example.com/docs?x=1",
        "https://example.com/news?utm_source=blog#part",
    ]


def test_ab_variant_subjects_are_rendered_per_recipient(app, sink):
    _, campaign = send(
        20,
        ab_test={"test_share": 0.9, "metric": "clicks", "decide_after_minutes": 60},
        variants=[
            {"key": "A", "subject": "Alpha for {{ contact.first_name }}"},
            {"key": "B", "subject": "{{ contact.first_name | lower }}, beta"},
        ],
    )
    rows = db.session.execute(
        sa.select(Contact.email, Contact.first_name, Delivery.variant)
        .join(Delivery, Delivery.contact_id == Contact.id)
        .where(Delivery.campaign_id == campaign.id, Delivery.variant.is_not(None))
    ).all()
    expected = {
        email_: f"Alpha for {name}" if variant == "A" else f"{name.lower()}, beta"
        for email_, name, variant in rows
    }
    got = {m.rcpt_tos[0]: email.message_from_bytes(m.data)["Subject"] for m in sink.messages}
    assert got == expected
    assert {variant for _, _, variant in rows} == {"A", "B"}


def test_a_variant_subject_that_breaks_the_rules_is_refused_at_save(app):
    project = make_project()
    template = make_template(project)
    with pytest.raises(TemplateRefused) as info:
        make_campaign(
            project,
            make_sender(project),
            template,
            [],
            ab_test={"test_share": 0.5, "metric": "clicks", "decide_after_minutes": 60},
            variants=[
                {"key": "A", "subject": "Fine {{ contact.first_name }}"},
                {"key": "B", "subject": "Hi {{ contact.nick }}"},
                {"key": "C", "subject": "Hi {{ contact.first_name"},
            ],
        )
    problems = [(p.part, p.line) for p in info.value.problems]
    assert problems == [("variant B subject", 1), ("variant C subject", 1)]
    assert "unknown variable 'contact.nick'" in str(info.value)


def test_preflight_checks_each_variants_own_subject(app):
    project = make_project()
    campaign = make_campaign(
        project,
        make_sender(project),
        make_template(project, subject="Short"),
        [make_list(project, 2)],
        ab_test={"test_share": 0.5, "metric": "clicks", "decide_after_minutes": 60},
        variants=[{"key": "A"}, {"key": "B", "subject": "Long " * 20}],
    )
    subjects = [c for c in preflight(project, campaign) if c.name == "subject"]
    assert [(c.ok, c.message.split(":")[0]) for c in subjects] == [
        (True, "variant A"),
        (False, "variant B"),
    ]
    assert "99 characters" in subjects[1].message
