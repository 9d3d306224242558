"""Open pixel and click redirect: the image, the headers, the redirect and what gets recorded."""

import struct

import pytest
import sqlalchemy as sa

from mailapp.extensions import db, get_redis
from mailapp.feedback.tracking import event_buffer
from mailapp.feedback.tracking.hits import drain_hits, flush_hits
from mailapp.models import Event, EventType, Link
from mailapp.urls import LinkSigner
from tests.factories import (
    links_of,
    make_contact,
    make_delivery,
    make_message,
    make_project,
    make_sent_campaign,
)

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"


@pytest.fixture
def sent(app):
    project = make_project()
    campaign = make_sent_campaign(
        project,
        ["https://shop.example.com/spring?ref=mail#top", "https://blog.example.com/"],
        utm={
            "utm_source": "mailapp",
            "utm_campaign": "{{ campaign.slug }}",
            "ref": "ignored",
        },  # the URL's own ref wins,
    )
    delivery = make_delivery(campaign, make_contact(project))
    return project, campaign, delivery, LinkSigner.from_app()


def _path(url):
    return url.removeprefix("http://mail.test")


def _events():
    db.session.expire_all()
    return db.session.scalars(sa.select(Event).order_by(Event.id)).all()


def assert_pixel(response):
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/gif"
    body = response.get_data()
    assert int(response.headers["Content-Length"]) == len(body)
    assert "no-store" in response.headers["Cache-Control"]
    assert "no-cache" in response.headers["Cache-Control"]
    assert response.headers["Pragma"] == "no-cache"
    # Parse it as a GIF: signature, logical screen 1x1, trailer.
    assert body[:6] == b"GIF89a"
    width, height = struct.unpack("<HH", body[6:10])
    assert (width, height) == (1, 1)
    assert body.endswith(b";")
    assert "Set-Cookie" not in response.headers


def test_open_pixel_is_a_valid_uncached_gif_and_records_an_open(client, sent):
    _, campaign, delivery, signer = sent
    response = client.get(_path(signer.open_url(delivery.id)), headers={"User-Agent": BROWSER})
    assert_pixel(response)
    assert drain_hits() == 1
    (event,) = _events()
    assert (event.type, event.delivery_id, event.contact_id, event.campaign_id) == (
        EventType.OPEN,
        delivery.id,
        delivery.contact_id,
        campaign.id,
    )
    assert event.is_machine is False
    assert event.payload["ua"] == BROWSER


@pytest.mark.parametrize(
    "token",
    ["nonsense", "1-aaaaaaaaaaaaaaaa", "", "a/b/../c", "%00%ff", "x" * 400, "1-2-" + "a" * 16],
)
def test_bad_open_tokens_still_get_the_image_and_record_nothing(client, sent, token):
    _, _, delivery, signer = sent
    response = client.get(f"/t/o/{token}" if token else "/t/o/x")
    assert_pixel(response)
    # A click or unsubscribe token is not an open token.
    assert_pixel(client.get(_path(signer.unsubscribe_url(delivery.id)).replace("/u/", "/t/o/")))
    assert flush_hits() == 0
    assert event_buffer.pending(get_redis()) == 0
    assert drain_hits() == 0
    assert _events() == []


def test_head_requests_do_not_count(client, sent):
    _, campaign, delivery, signer = sent
    link = links_of(campaign)[0]
    head = client.head(_path(signer.open_url(delivery.id)))
    assert head.status_code == 200
    assert head.headers["Content-Type"] == "image/gif"
    assert head.headers["Content-Length"] == "43"
    response = client.head(_path(signer.click_url(delivery.id, link.id)))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("https://shop.example.com/spring")
    assert response.get_data() == b""
    assert flush_hits() == 0


def test_click_redirects_to_the_stored_link_with_the_utm_rule(client, sent):
    _, campaign, delivery, signer = sent
    first, second = links_of(campaign)
    response = client.get(
        _path(signer.click_url(delivery.id, first.id)), headers={"User-Agent": BROWSER}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == (
        "https://shop.example.com/spring?ref=mail&utm_campaign=spring-news&utm_source=mailapp#top"
    )
    response = client.get(
        _path(signer.click_url(delivery.id, second.id)), headers={"User-Agent": BROWSER}
    )
    assert response.headers["Location"] == (
        "https://blog.example.com/?ref=ignored&utm_campaign=spring-news&utm_source=mailapp"
    )
    assert drain_hits() == 2
    assert [(e.type, e.link_id, e.is_machine) for e in _events()] == [
        (EventType.CLICK, first.id, False),
        (EventType.CLICK, second.id, False),
    ]


def _assert_404(response):
    assert response.status_code == 404
    assert "Location" not in response.headers


def test_tampered_unknown_and_foreign_click_tokens_get_404(client, sent):
    project, campaign, delivery, signer = sent
    link = links_of(campaign)[0]
    good = _path(signer.click_url(delivery.id, link.id))
    token = good.rsplit("/", 1)[1]
    item, link_part, signature = token.split("-")
    other_campaign = make_sent_campaign(project, ["https://elsewhere.example.com/"])
    foreign_link = links_of(other_campaign)[0]
    other_project = make_project()
    stranger = make_sent_campaign(other_project, ["https://stranger.example.com/"])
    stranger_delivery = make_delivery(stranger, make_contact(other_project))
    forged_signer = LinkSigner("another-secret", "http://mail.test")
    cases = [
        f"/t/c/{item}-{link_part}-{'a' * 16}",  # forged signature
        f"/t/c/{item}-{int(link_part, 36) + 1:x}-{signature}",  # tampered link id
        f"/t/c/{token}x",
        "/t/c/" + token.replace(item, "zz", 1),
        _path(forged_signer.click_url(delivery.id, link.id)),
        # Genuinely signed, but the link belongs to another campaign / project:
        _path(signer.click_url(delivery.id, foreign_link.id)),
        _path(signer.click_url(stranger_delivery.id, link.id)),
        # A signed click for a delivery that does not exist:
        _path(signer.click_url(999_999, link.id)),
        # An open or unsubscribe token is not a click token:
        "/t/c/" + _path(signer.open_url(delivery.id)).rsplit("/", 1)[1],
        "/t/c/%2F%2Fevil.com",
        "/t/c/..%2F..%2Fevil.com",
    ]
    for path in cases:
        _assert_404(client.get(path))
    assert flush_hits() == 0


@pytest.mark.parametrize(
    "stored",
    [
        "//evil.com/path",
        "https://good.example.com@evil.com/",
        "https://good.example.com:pass@evil.com/",
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https:evil.com",
        "https:/evil.com",
        "https:\\\\evil.com",
        "/\\evil.com",
        "http://evil.com\r\nSet-Cookie: a=b",
        "ftp://files.example.com/x",
        "https://",
        "https://exa mple.com/",
        "",
    ],
)
def test_stored_urls_that_could_leave_elsewhere_are_refused(client, sent, stored):
    _, campaign, delivery, signer = sent
    link = links_of(campaign)[0]
    db.session.execute(sa.update(Link).where(Link.id == link.id).values(url=stored))
    db.session.commit()
    _assert_404(client.get(_path(signer.click_url(delivery.id, link.id))))


def test_transactional_open_and_click(client, sent):
    project, campaign, _, _ = sent
    contact = make_contact(project)
    message = make_message(project, contact)
    signer = LinkSigner.from_app("message")
    link = links_of(campaign)[1]
    assert_pixel(client.get(_path(signer.open_url(message.id)), headers={"User-Agent": BROWSER}))
    response = client.get(
        _path(signer.click_url(message.id, link.id)), headers={"User-Agent": BROWSER}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "https://blog.example.com/"  # no campaign, no UTM
    # A message of another project cannot use this project's links.
    other = make_project()
    _assert_404(client.get(_path(signer.click_url(make_message(other).id, link.id))))
    assert drain_hits() == 2
    events = _events()
    assert [(e.type, e.message_id, e.contact_id, e.campaign_id) for e in events] == [
        (EventType.OPEN, message.id, contact.id, None),
        (EventType.CLICK, message.id, contact.id, None),
    ]


def test_a_link_with_non_ascii_characters_redirects_to_its_ascii_form(client, sent):
    _, campaign, delivery, signer = sent
    link = links_of(campaign)[1]
    db.session.execute(
        sa.update(Link).where(Link.id == link.id).values(url="https://bücher.example/straße")
    )
    db.session.commit()
    response = client.get(_path(signer.click_url(delivery.id, link.id)))
    assert response.status_code == 302
    assert response.headers["Location"] == (
        "https://xn--bcher-kva.example/stra%C3%9Fe?ref=ignored&utm_campaign=spring-news"
        "&utm_source=mailapp"
    )


def test_tracking_answers_open_no_session(client, sent):
    _, campaign, delivery, signer = sent
    for path in (
        signer.open_url(delivery.id),
        signer.click_url(delivery.id, links_of(campaign)[0].id),
    ):
        response = client.get(_path(path), headers={"User-Agent": BROWSER})
        assert response.status_code in (200, 302)
        assert "Set-Cookie" not in response.headers
        assert "Cookie" not in response.headers.get("Vary", "")
