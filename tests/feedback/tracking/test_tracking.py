"""From request to event: spool, buffer, drain, crash recovery, Redis down, machines, privacy."""

from collections import Counter

import pytest
import sqlalchemy as sa

from mailapp import create_app
from mailapp.extensions import db, get_redis
from mailapp.feedback.tracking import event_buffer
from mailapp.feedback.tracking.agents import classify_agent
from mailapp.feedback.tracking.hits import drain_hits, flush_hits
from mailapp.models import (
    CampaignEngagement,
    Contact,
    DailyStat,
    Event,
    EventType,
    LinkStat,
    Project,
)
from mailapp.urls import LinkSigner
from tests.conftest import app_config
from tests.factories import links_of, make_contact, make_delivery, make_project, make_sent_campaign
from tests.support.servers import free_port

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
URLS = [f"https://shop.example.com/p/{n}" for n in range(4)]


def _path(url):
    return url.removeprefix("http://mail.test")


def _events():
    db.session.expire_all()
    return db.session.scalars(sa.select(Event).order_by(Event.id)).all()


def _setup(project_settings=None):
    project = make_project()
    if project_settings:
        project.settings = {**project.settings, **project_settings}
        db.session.commit()
    campaign = make_sent_campaign(project, URLS)
    deliveries = [make_delivery(campaign, make_contact(project)) for _ in range(3)]
    return project, campaign, deliveries, links_of(campaign)


def test_buffered_hits_drain_into_exactly_the_events_requested(client):
    _, campaign, deliveries, links = _setup()
    signer = LinkSigner.from_app()
    expected = Counter()
    for n, delivery in enumerate(deliveries):
        for _ in range(n + 1):
            client.get(_path(signer.open_url(delivery.id)), headers={"User-Agent": BROWSER})
            expected[(EventType.OPEN, delivery.id, None)] += 1
        client.get(
            _path(signer.click_url(delivery.id, links[n].id)), headers={"User-Agent": BROWSER}
        )
        expected[(EventType.CLICK, delivery.id, links[n].id)] += 1
    assert _events() == []  # nothing written in the request path
    assert event_buffer.pending(get_redis()) == 0  # nor sent to Redis: spooled
    assert flush_hits() == sum(expected.values())
    assert event_buffer.pending(get_redis()) == sum(expected.values())
    assert drain_hits(batch_size=4) == sum(expected.values())  # several batches
    assert event_buffer.pending(get_redis()) == 0
    events = _events()
    assert Counter((e.type, e.delivery_id, e.link_id) for e in events) == expected
    assert {e.campaign_id for e in events} == {campaign.id}
    assert not any(e.is_machine for e in events)
    assert drain_hits() == 0


def test_a_drain_that_fails_leaves_its_batch_for_the_next_one(client):
    _, _, deliveries, _ = _setup()
    signer = LinkSigner.from_app()
    for delivery in deliveries:
        client.get(_path(signer.open_url(delivery.id)), headers={"User-Agent": BROWSER})
    flush_hits()

    def crash(items):
        raise RuntimeError("worker died mid-drain")

    with pytest.raises(RuntimeError):
        event_buffer.drain(get_redis(), crash, batch_size=2)
    redis_client = get_redis()
    assert redis_client.llen(event_buffer.PROCESSING_KEY) == 2
    assert not redis_client.exists(event_buffer.LEASE_KEY)
    assert drain_hits() == 3
    assert sorted(e.delivery_id for e in _events()) == sorted(d.id for d in deliveries)
    assert event_buffer.pending(redis_client) == 0


def test_a_second_drain_waits_for_the_first(app):
    with app.app_context():
        redis_client = get_redis()
        redis_client.set(event_buffer.LEASE_KEY, "someone-else")
        redis_client.lpush(event_buffer.BUFFER_KEY, "{}")
        assert drain_hits() == 0
        assert redis_client.llen(event_buffer.BUFFER_KEY) == 1


def test_without_redis_the_spool_writes_directly(database_url, tmp_path):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(app_config(database_url, dead_redis, tmp_path / "instance"))
    with app.app_context():
        _, _, deliveries, links = _setup()
        signer = LinkSigner.from_app()
        client = app.test_client()
        pixel = client.get(
            _path(signer.open_url(deliveries[0].id)), headers={"User-Agent": BROWSER}
        )
        assert pixel.status_code == 200
        assert pixel.mimetype == "image/gif"
        click = client.get(
            _path(signer.click_url(deliveries[1].id, links[2].id)), headers={"User-Agent": BROWSER}
        )
        assert click.status_code == 302
        assert _events() == []
        assert flush_hits() == 2
        events = _events()
        assert [(e.type, e.delivery_id, e.link_id) for e in events] == [
            (EventType.OPEN, deliveries[0].id, None),
            (EventType.CLICK, deliveries[1].id, links[2].id),
        ]
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(
    ("agent", "ip", "kind"),
    [
        ("Mozilla/5.0", "203.0.113.9", "apple_mpp"),
        (BROWSER, "17.58.101.5", "apple_mpp"),
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0"
            " (via ggpht.com GoogleImageProxy)",
            "66.249.84.1",
            "gmail_proxy",
        ),
        (
            "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
            None,
            "yahoo_proxy",
        ),
        ("python-requests/2.31", "198.51.100.1", "scanner"),
        ("Barracuda Sentinel (EE)", "198.51.100.1", "scanner"),
        ("", "198.51.100.1", "no_agent"),
        (BROWSER, "198.51.100.1", None),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15",
            "192.0.2.4",
            None,
        ),
    ],
)
def test_agent_classification(agent, ip, kind):
    assert classify_agent(agent, ip) == kind


def test_machine_opens_and_scanner_clicks_are_flagged_apart(client):
    _, campaign, deliveries, links = _setup()
    signer = LinkSigner.from_app()
    human, proxied, scanned = deliveries
    client.get(_path(signer.open_url(human.id)), headers={"User-Agent": BROWSER})
    client.get(_path(signer.open_url(proxied.id)), headers={"User-Agent": "Mozilla/5.0"})
    client.get(
        _path(signer.open_url(proxied.id)),
        headers={"User-Agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"},
    )
    client.get(_path(signer.click_url(human.id, links[0].id)), headers={"User-Agent": BROWSER})
    # A gateway following every link of one message at once, with a browser-like agent:
    for link in links:
        client.get(_path(signer.click_url(scanned.id, link.id)), headers={"User-Agent": BROWSER})
    # A message opened within seconds of its send: a prefetch.
    fresh = make_delivery(campaign, make_contact(campaign_project(campaign)), sent_minutes_ago=0)
    client.get(_path(signer.open_url(fresh.id)), headers={"User-Agent": BROWSER})
    drain_hits()
    flags = {
        (e.delivery_id, e.type, e.link_id): (e.is_machine, e.payload.get("machine"))
        for e in _events()
    }
    assert flags[(human.id, EventType.OPEN, None)] == (False, None)
    assert flags[(human.id, EventType.CLICK, links[0].id)] == (False, None)
    assert flags[(fresh.id, EventType.OPEN, None)] == (True, "prefetch")
    machine_opens = [e.payload["machine"] for e in _events() if e.delivery_id == proxied.id]
    assert sorted(machine_opens) == ["apple_mpp", "gmail_proxy"]
    for link in links:
        assert flags[(scanned.id, EventType.CLICK, link.id)] == (True, "scan_burst")


def campaign_project(campaign):
    return db.session.get(Project, campaign.project_id)


def test_anonymous_tracking_keeps_counts_only(client):
    project, campaign, deliveries, links = _setup({"tracking": "anonymous"})
    signer = LinkSigner.from_app()
    client.get(_path(signer.open_url(deliveries[0].id)), headers={"User-Agent": BROWSER})
    response = client.get(
        _path(signer.click_url(deliveries[0].id, links[1].id)), headers={"User-Agent": BROWSER}
    )
    assert response.status_code == 302
    assert drain_hits() == 2
    for event in _events():
        assert (event.project_id, event.campaign_id) == (project.id, campaign.id)
        assert event.contact_id is None
        assert event.delivery_id is None
        assert "ip" not in event.payload
        assert "ua" not in event.payload


def test_tracking_off_records_nothing(client):
    _, _, deliveries, links = _setup({"tracking": "off"})
    signer = LinkSigner.from_app()
    assert client.get(_path(signer.open_url(deliveries[0].id))).status_code == 200
    response = client.get(_path(signer.click_url(deliveries[0].id, links[0].id)))
    assert response.status_code == 302  # an old message's link still works for its reader
    assert drain_hits() == 0
    assert _events() == []


def test_a_malformed_buffered_hit_is_dropped_without_blocking_the_others(client):
    _, _, deliveries, _ = _setup()
    signer = LinkSigner.from_app()
    client.get(_path(signer.open_url(deliveries[0].id)), headers={"User-Agent": BROWSER})
    get_redis().lpush(event_buffer.BUFFER_KEY, "not json", '{"a": 1}')
    client.get(_path(signer.open_url(deliveries[1].id)), headers={"User-Agent": BROWSER})
    assert drain_hits() == 2
    assert event_buffer.pending(get_redis()) == 0
    assert [e.delivery_id for e in _events()] == [deliveries[0].id, deliveries[1].id]


def _aggregates(campaign, contact_id):
    db.session.expire_all()
    daily = {
        (row.type, row.is_machine): row.count
        for row in db.session.scalars(
            sa.select(DailyStat).where(DailyStat.campaign_id == campaign.id)
        )
    }
    engagement = db.session.get(CampaignEngagement, (campaign.id, contact_id))
    links = {
        row.link_id: (row.clicks, row.machine_clicks)
        for row in db.session.scalars(sa.select(LinkStat))
    }
    return daily, engagement, links


def test_a_batch_recorded_again_after_a_crash_counts_once(client):
    _, campaign, deliveries, links = _setup()
    signer = LinkSigner.from_app()
    delivery = deliveries[0]
    client.get(_path(signer.open_url(delivery.id)), headers={"User-Agent": BROWSER})
    client.get(_path(signer.click_url(delivery.id, links[0].id)), headers={"User-Agent": BROWSER})
    assert flush_hits() == 2
    redis_client = get_redis()
    batch = redis_client.lrange(event_buffer.BUFFER_KEY, 0, -1)
    assert drain_hits() == 2
    # A drain that died after its commit but before dropping its batch: it comes back.
    redis_client.rpush(event_buffer.PROCESSING_KEY, *reversed(batch))
    redis_client.lpush(event_buffer.BUFFER_KEY, *batch)
    assert drain_hits() == 0
    assert event_buffer.pending(redis_client) == 0
    assert len(_events()) == 2
    daily, engagement, link_stats = _aggregates(campaign, delivery.contact_id)
    assert daily == {(EventType.OPEN, False): 1, (EventType.CLICK, False): 1}
    assert (engagement.opens, engagement.clicks) == (1, 1)
    assert link_stats == {links[0].id: (1, 0)}


def test_a_scanner_burst_split_across_drains_is_flagged_whole(client):
    _, campaign, deliveries, links = _setup()
    signer = LinkSigner.from_app()
    scanned, human = deliveries[0], deliveries[1]

    def click(delivery, link):
        response = client.get(
            _path(signer.click_url(delivery.id, link.id)), headers={"User-Agent": BROWSER}
        )
        assert response.status_code == 302

    click(scanned, links[0])
    click(scanned, links[1])
    click(human, links[0])
    assert drain_hits() == 3
    assert not any(e.is_machine for e in _events())  # two links: not a burst yet
    daily, engagement, _ = _aggregates(campaign, scanned.contact_id)
    assert (engagement.clicks, engagement.first_clicked_at is not None) == (2, True)
    click(scanned, links[2])  # the third link, in the next drain's batch
    assert drain_hits() == 1
    flags = {
        (e.delivery_id, e.link_id): (e.is_machine, e.payload.get("machine")) for e in _events()
    }
    assert flags == {
        (scanned.id, links[0].id): (True, "scan_burst"),
        (scanned.id, links[1].id): (True, "scan_burst"),
        (scanned.id, links[2].id): (True, "scan_burst"),
        (human.id, links[0].id): (False, None),
    }
    daily, engagement, link_stats = _aggregates(campaign, scanned.contact_id)
    assert daily == {(EventType.CLICK, False): 1, (EventType.CLICK, True): 3}
    assert (engagement.clicks, engagement.machine_clicks) == (0, 3)
    assert engagement.first_clicked_at is None
    assert link_stats == {links[0].id: (1, 1), links[1].id: (0, 1), links[2].id: (0, 1)}
    assert db.session.get(Contact, scanned.contact_id).last_clicked_at is None
    assert db.session.get(Contact, human.contact_id).last_clicked_at is not None
