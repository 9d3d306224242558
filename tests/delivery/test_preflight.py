"""The content checklist: each check fails when its rule is broken, and blocks or warns."""

import pytest

from mailapp.access.audit import Actor
from mailapp.content.templates import Content, create_template
from mailapp.delivery.preflight import content_checks
from mailapp.delivery.senders import generate_dkim_key
from mailapp.extensions import db
from mailapp.models import Asset, Sender, TemplateKind
from tests.factories import make_project

GOOD = (
    '<p>Hello {{ contact.first_name }}, <a href="https://shop.example/sale">shop</a> '
    '<a href="mailto:help@shop.example">help</a></p>'
    "<p>You receive this because you subscribed at shop.example. "
    "{{ project.postal_address }} "
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


@pytest.fixture(scope="module")
def dkim_key():
    return generate_dkim_key()


def setup(html=GOOD, subject="Spring sale", kind=TemplateKind.MARKETING, dkim_key=None, **sender):
    project = make_project()
    project.postal_address = "1 Main Street\nSpringfield"
    fields = {
        "name": "News", "from_name": "Shop", "from_email": "news@shop.example",
        "reply_to": "help@shop.example", "domain": "shop.example",
        "bounce_domain": "bounces.shop.example", "dkim_selector": "s1",
        "dkim_private_key": dkim_key,
    } | sender  # fmt: skip
    sender_row = Sender(project_id=project.id, **fields)
    db.session.add(sender_row)
    db.session.commit()
    template = create_template(
        project, "Sale", Content(subject=subject, html=html), actor=Actor.system(), kind=kind
    )
    return template.versions[0], sender_row, project


def failing(checks):
    return {c.name: c.blocking for c in checks if not c.ok}


def test_good_content_passes_everything(app, dkim_key):
    with app.app_context():
        checks = content_checks(*setup(dkim_key=dkim_key))
        assert failing(checks) == {}
        assert {c.name for c in checks} == {
            "subject", "unsubscribe_link", "links", "size", "image_weight", "from",
            "reply_to", "dkim", "bounce_domain", "postal_address", "why_line",
        }  # fmt: skip


@pytest.mark.parametrize(
    ("html", "subject", "sender", "expected"),
    [
        (GOOD.replace("{{ unsubscribe_url }}", "https://shop.example/u"), "Sale", {},
         {"unsubscribe_link": True}),
        (GOOD.replace("https://shop.example/sale", "/sale"), "Sale", {}, {"links": True}),
        (GOOD.replace("https://shop.example/sale", "https:///x"), "Sale", {}, {"links": True}),
        (GOOD, "S" * 90, {}, {"subject": False}),
        (GOOD, "Sale", {"dkim_private_key": None}, {"dkim": True}),
        (GOOD, "Sale", {"bounce_domain": None}, {"bounce_domain": True}),
        (GOOD, "Sale", {"from_email": "news@"}, {"from": True}),
        (GOOD, "Sale", {"reply_to": "not an address"}, {"reply_to": True}),
        (GOOD.replace("{{ project.postal_address }}", ""), "Sale", {}, {"postal_address": True}),
        (GOOD.replace("You receive this because you subscribed at", "See"), "Sale", {},
         {"why_line": False}),
        (GOOD + "<p>" + "x" * 110_000 + "</p>", "Sale", {}, {"size": False}),
    ],
)  # fmt: skip
def test_each_rule(app, dkim_key, html, subject, sender, expected):
    with app.app_context():
        checks = content_checks(*setup(html, subject, dkim_key=dkim_key, **sender))
        assert failing(checks) == expected


def test_postal_address_written_literally_counts(app, dkim_key):
    with app.app_context():
        html = GOOD.replace("{{ project.postal_address }}", "1 Main Street, Springfield")
        assert failing(content_checks(*setup(html, dkim_key=dkim_key))) == {}


def test_transactional_needs_no_unsubscribe_or_footer(app, dkim_key):
    with app.app_context():
        version, sender, project = setup(
            "<p>Your code is {{ data.code }}</p>",
            kind=TemplateKind.TRANSACTIONAL,
            dkim_key=dkim_key,
        )
        assert failing(content_checks(version, sender, project)) == {}
        assert failing(content_checks(version, None, project)) == {"sender": True}


def test_image_weight_counts_library_images(app, dkim_key):
    with app.app_context():
        version, sender, project = setup(dkim_key=dkim_key)
        db.session.add(Asset(project_id=project.id, filename="big.png", content_type="image/png",
                             size=2_000_000, storage_key="k" * 32))  # fmt: skip
        db.session.commit()
        version.html += '<img src="http://mail.test/a/' + "k" * 32 + '" alt="">'
        assert failing(content_checks(version, sender, project)) == {"image_weight": False}


def test_every_locale_is_checked(app, dkim_key):
    with app.app_context():
        version, sender, project = setup(dkim_key=dkim_key)
        version.locale_variants = {"de": {"html": "<p>Hallo</p>"}}
        failed = [c for c in content_checks(version, sender, project) if not c.ok]
        assert {c.name for c in failed} == {"unsubscribe_link", "postal_address", "why_line"}
        assert all("(de)" in c.message for c in failed)
