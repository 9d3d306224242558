"""UTM parameters by campaign rule: templated values, the author's URL kept, the rule checked
at save, and the click redirect applying it."""

import pytest

from mailapp.content.submission import TemplateRefused
from mailapp.content.utm import check_utm_rule, slugify, utm_url
from mailapp.delivery.campaigns import create_campaign
from mailapp.feedback.tracking.click_targets import resolve_click
from mailapp.urls import LinkSigner
from tests.factories import (
    TEST_ACTOR,
    links_of,
    make_contact,
    make_delivery,
    make_project,
    make_sent_campaign,
)

RULE = {"utm_source": "mailapp", "utm_medium": "email", "utm_campaign": "{{ campaign.slug }}"}


def tag(url, rule=RULE, name="Spring news!", link_id=7):
    return utm_url(url, rule, 42, name, link_id)


def test_rule_is_added_in_name_order_with_templated_values():
    assert tag("https://shop.example.com/sale") == (
        "https://shop.example.com/sale?utm_campaign=spring-news&utm_medium=email&utm_source=mailapp"
    )


def test_the_authors_utm_parameters_are_kept_not_overwritten():
    assert tag("https://shop.example.com/?utm_source=blog&utm_campaign=mine") == (
        "https://shop.example.com/?utm_source=blog&utm_campaign=mine&utm_medium=email"
    )


def test_the_fragment_is_preserved_after_the_added_parameters():
    assert tag("https://shop.example.com/p?ref=mail#reviews") == (
        "https://shop.example.com/p?ref=mail"
        "&utm_campaign=spring-news&utm_medium=email&utm_source=mailapp#reviews"
    )
    assert tag("https://shop.example.com/#top", {"utm_source": "x"}) == (
        "https://shop.example.com/?utm_source=x#top"
    )


def test_the_authors_query_string_stays_byte_for_byte():
    url = "https://shop.example.com/s?q=a%20b&flag&x=%E2%9C%93"
    assert tag(url, {"utm_source": "m"}) == f"{url}&utm_source=m"
    assert tag("https://shop.example.com/s?", {"utm_source": "m"}) == (
        "https://shop.example.com/s?utm_source=m"
    )


def test_every_documented_variable_renders_and_values_are_url_encoded():
    rule = {
        "utm_campaign": "{{ campaign.id }}-{{ campaign.slug }}",
        "utm_content": "{{ link.host }}{{ link.path }}#{{ link.id }}",
        "utm_term": "{{ campaign.name | lower }}",
    }
    assert tag("https://shop.example.com/a/b?x=1", rule, name="Black Friday & Co") == (
        "https://shop.example.com/a/b?x=1&utm_campaign=42-black-friday-co"
        "&utm_content=shop.example.com%2Fa%2Fb%237&utm_term=black%20friday%20%26%20co"
    )


def test_empty_rules_and_empty_values_add_nothing():
    assert tag("https://a.example/", {}) == "https://a.example/"
    assert tag("https://a.example/", {"utm_source": "", "utm_term": "{{ '' }}"}) == (
        "https://a.example/"
    )


def test_a_value_that_fails_in_the_sandbox_loses_only_that_parameter():
    rule = {"utm_source": "m", "utm_term": "{{ campaign.name.__class__ }}"}
    assert tag("https://a.example/", rule) == "https://a.example/?utm_source=m"
    rule = {"utm_source": "m", "utm_term": "{{ 'x' * 10000000 }}"}
    assert tag("https://a.example/", rule) == "https://a.example/?utm_source=m"


def test_slugify():
    assert slugify("  Été 2026: -50% !") == "ete-2026-50"
    assert slugify("Spring news") == "spring-news"


@pytest.mark.parametrize(
    ("rule", "part", "line", "reason"),
    [
        ({"utm_campaign": "{{ campaign.nom }}"}, "utm utm_campaign", 1, "campaign.nom"),
        ({"utm_term": "{{ contact.email }}"}, "utm utm_term", 1, "unknown variable 'contact'"),
        ({"utm_term": "a\n{{ link.id "}, "utm utm_term", 2, "unexpected end"),
        ({"utm_term": "{{ link.__class__ }}"}, "utm utm_term", 1, "'__class__' is not allowed"),
        ({"utm term": "x"}, "utm", None, "is not a query parameter name"),
        ({"utm_term": 3}, "utm utm_term", None, "must be text"),
        (["utm_source"], "utm", None, "use {"),
    ],
)
def test_rules_are_checked_with_part_line_and_reason(rule, part, line, reason):
    (problem,) = check_utm_rule(rule)
    assert (problem.part, problem.line) == (part, line)
    assert reason in problem.reason


def test_good_rules_pass_the_check():
    assert check_utm_rule(RULE) == []
    assert check_utm_rule({"utm_content": "{{ link.host }}-{{ link.id }}"}) == []
    assert check_utm_rule({}) == [] == check_utm_rule(None)


def test_a_campaign_with_a_bad_rule_is_refused_at_save(app):
    project = make_project()
    with pytest.raises(TemplateRefused) as info:
        create_campaign(
            project, actor=TEST_ACTOR, name="News", utm={"utm_campaign": "{{ campaign.nme }}"}
        )
    assert "utm utm_campaign line 1: unknown variable 'campaign.nme'" in str(info.value)
    campaign = create_campaign(project, actor=TEST_ACTOR, name="News", utm=RULE)
    assert campaign.utm == RULE


def test_the_click_redirect_applies_the_templated_rule(client):
    project = make_project()
    campaign = make_sent_campaign(
        project,
        ["https://shop.example.com/p?utm_source=blog#top", "https://shop.example.com/q"],
        name="Autumn Sale",
        utm={**RULE, "utm_content": "{{ link.path }}"},
    )
    delivery = make_delivery(campaign, make_contact(project))
    first, second = links_of(campaign)
    signer = LinkSigner.from_app()
    response = client.get(signer.click_url(delivery.id, first.id).removeprefix("http://mail.test"))
    assert response.status_code == 302
    assert response.headers["Location"] == (
        "https://shop.example.com/p?utm_source=blog"
        "&utm_campaign=autumn-sale&utm_content=%2Fp&utm_medium=email#top"
    )
    found = resolve_click(client.application.config["SECRET_KEY"], _token(signer, delivery, second))
    assert found[3] == (
        "https://shop.example.com/q?utm_campaign=autumn-sale&utm_content=%2Fq"
        "&utm_medium=email&utm_source=mailapp"
    )
    # A link of another campaign never takes this campaign's rule (nor redirects at all).
    other = make_sent_campaign(project, ["https://elsewhere.example/"], utm={"utm_source": "o"})
    secret = client.application.config["SECRET_KEY"]
    assert resolve_click(secret, _token(signer, delivery, links_of(other)[0])) is None


def _token(signer, delivery, link):
    return signer.click_url(delivery.id, link.id).rsplit("/", 1)[1]
